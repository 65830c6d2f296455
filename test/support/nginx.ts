// nginx for tests, running deploy/nginx.conf as shipped except for what a test machine needs:
// local upstream addresses, a free loopback port, every path in a temporary folder, and the
// timeouts the test asks for. Each rewrite must match, so the test fails if the file drifts.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.js";

export interface TestNginx {
  url: string;
  /** The shipped config as rewritten for this test. */
  config: string;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** host:port of each Chorus replica. */
  upstreams: string[];
  /** proxy_read_timeout, e.g. "1s" (the shipped file's is longer than the default heartbeat). */
  readTimeout?: string;
}

function rewrite(config: string, from: RegExp, to: string): string {
  if (!from.test(config)) throw new Error(`deploy/nginx.conf no longer matches ${from}`);
  return config.replace(from, to);
}

/** The shipped file, made runnable without root: what the test changes, and nothing else. */
export function testNginxConfig(dir: string, port: number, opts: NginxOptions): string {
  let c = readFileSync("deploy/nginx.conf", "utf8");
  c = rewrite(c, /^worker_processes auto;$/m, `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;`);
  c = rewrite(
    c,
    /^http \{$/m,
    `http {\n  access_log ${dir}/access.log;\n` +
      ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${dir}/${t};\n`).join(""),
  );
  c = rewrite(c, /^(\s*)server chorus-a:8080;\n\s*server chorus-b:8080;$/m, opts.upstreams.map((u) => `$1server ${u};`).join("\n"));
  c = rewrite(c, /^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${port};`);
  // Which replica answered, for the tests only.
  c = rewrite(c, /^(\s*)proxy_pass http:\/\/chorus;$/m, "$1proxy_pass http://chorus;\n$1add_header X-Test-Upstream $upstream_addr always;");
  if (opts.readTimeout) c = rewrite(c, /proxy_read_timeout \S+;/, `proxy_read_timeout ${opts.readTimeout};`);
  return c;
}

export async function startNginx(opts: NginxOptions): Promise<TestNginx> {
  const dir = mkdtempSync(join(tmpdir(), "chorus-nginx-"));
  const port = await freePort();
  const config = testNginxConfig(dir, port, opts);
  writeFileSync(join(dir, "nginx.conf"), config);
  const proc = spawn("nginx", ["-p", dir, "-e", join(dir, "error.log"), "-c", join(dir, "nginx.conf"), "-g", "daemon off;"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  proc.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const url = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  // Up when it proxies /health to a replica.
  while (!(await fetch(`${url}/health`).then((r) => r.ok, () => false))) {
    if (proc.exitCode !== null || Date.now() - t0 > 10_000) {
      const log = (() => {
        try {
          return readFileSync(join(dir, "error.log"), "utf8");
        } catch {
          return "";
        }
      })();
      throw new Error(`nginx did not start: ${stderr} ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    config,
    stop: async () => {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      const killer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
