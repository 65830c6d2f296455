// Run after `npm install` (postinstall): applies the fix of nodejs/undici#5846 (for issue #5845)
// to the installed undici until a release carries it. Without it, aborting a request in flight
// re-queues it, opens a new connection for it, and only then drops it: when 2,000 clients leave
// at once, 6,000 needless connects, a third of the CPU of cancelling their runs (bench scenario d).
// Idempotent; when the code no longer looks as expected (a release with the fix), it does nothing.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const MARK = "// chorus: nodejs/undici#5846";
let file;
try {
  file = join(dirname(createRequire(import.meta.url).resolve("undici/package.json")), "lib/dispatcher/client.js");
} catch {
  process.exit(0); // undici not installed (yet): nothing to patch
}
const source = readFileSync(file, "utf8");
const before = "    if (request === null) {\n      return\n    }\n";
const fix = `${before}\n    if (request.aborted) { ${MARK}\n      client[kQueue].splice(client[kPendingIdx], 1)\n      continue\n    }\n`;
if (source.includes(MARK)) process.exit(0);
if (source.split(before).length !== 2 || !source.includes("connect(client)")) {
  console.warn(`patch-undici: ${file} is not as expected (a release with the fix?); left as it is`);
  process.exit(0);
}
writeFileSync(file, source.replace(before, fix));
console.log("patch-undici: an aborted request no longer opens a connection (nodejs/undici#5846)");
