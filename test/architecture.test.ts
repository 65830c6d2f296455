// The shape of src/ as the README's code map describes it, checked on every run: no import
// cycle (madge, type imports included), no lower layer importing a higher one, HTTP statuses
// chosen only on the HTTP side, and no file too long to read in one sitting.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import madge from "madge";
import ts from "typescript";
import { beforeAll, describe, expect, it } from "vitest";

const SRC = "src";
let graph: Record<string, string[]>;
let cycles: string[][];

beforeAll(async () => {
  const res = await madge(SRC, { fileExtensions: ["ts"], tsConfig: "tsconfig.json" });
  graph = res.obj();
  cycles = res.circular();
}, 60_000);

/** A file's layer: its folder under src/, or the top-level module's name (errors, app, services…). */
const layerOf = (file: string) => (file.includes("/") ? file.split("/")[0]! : file.replace(/\.ts$/, ""));
const ENTRY = ["app", "services", "server", "index", "cli"];

/** What each layer must never import (a layer never listed here may import what it needs). */
const FORBIDDEN: Record<string, string[]> = {
  config: ["run", "store", "http", "observability", ...ENTRY],
  errors: ["run", "store", "http", "observability", "config", ...ENTRY],
  log: ["run", "store", "http", "observability", ...ENTRY],
  llm: ["run", "store", "http", "observability", ...ENTRY],
  observability: ["store", "http", ...ENTRY],
  run: ["http", ...ENTRY],
  store: ["http", "observability", ...ENTRY],
  http: ENTRY,
};

/** The code of a file without its comments, as tokens. */
function tokens(file: string): { kind: ts.SyntaxKind; text: string }[] {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, ts.LanguageVariant.Standard, readFileSync(file, "utf8"));
  const out: { kind: ts.SyntaxKind; text: string }[] = [];
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    out.push({ kind, text: scanner.getTokenText() });
  }
  return out;
}

const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));

describe("the architecture of src/", () => {
  it("has no import cycle", () => {
    expect(Object.keys(graph).length).toBeGreaterThan(40); // madge resolved the .js specifiers to .ts files
    expect(graph["run/fan-out.ts"]).toContain("run/agents-stage.ts");
    expect(cycles).toEqual([]);
  });

  it("has no lower layer importing a higher one", () => {
    const wrong = Object.entries(graph).flatMap(([file, deps]) =>
      deps.filter((d) => FORBIDDEN[layerOf(file)]?.includes(layerOf(d))).map((d) => `${file} → ${d}`),
    );
    expect(wrong).toEqual([]);
  });

  it("chooses HTTP statuses only on the HTTP side: run/ and store/ name none", () => {
    const wrong: string[] = [];
    for (const file of files(SRC).filter((f) => /^src\/(run|store)\//.test(f))) {
      const toks = tokens(file);
      toks.forEach((t, i) => {
        // A status number where a status goes (`status: 409`, `statusCode === 503`, `new ApiError(404`),
        // a Hono response (`.json(`, `.status(`, `.header(`), or Hono itself.
        const [before, op] = [toks[i - 2]?.text ?? "", toks[i - 1]?.text ?? ""];
        const statusSlot = (/^status(Code)?$/i.test(before) && [":", "=", "==", "===", "!=", "!=="].includes(op)) || (before === "ApiError" && op === "(");
        if (t.kind === ts.SyntaxKind.NumericLiteral && /^[1-5]\d\d$/.test(t.text) && statusSlot) wrong.push(`${file}: ${before} ${op} ${t.text}`);
        if (t.kind === ts.SyntaxKind.Identifier && ["json", "status", "header"].includes(t.text) && toks[i - 1]?.text === "." && toks[i + 1]?.text === "(") {
          wrong.push(`${file}: .${t.text}(`);
        }
        if (t.kind === ts.SyntaxKind.StringLiteral && /^["']hono/.test(t.text)) wrong.push(`${file}: imports ${t.text}`);
      });
    }
    expect(wrong).toEqual([]);
  });

  it("has no file over 300 lines", () => {
    const long = files(SRC)
      .map((f) => ({ f: relative(SRC, f), lines: readFileSync(f, "utf8").split("\n").length }))
      .filter((x) => x.lines > 300)
      .map((x) => `${x.f}: ${x.lines}`);
    expect(long).toEqual([]);
  });
});
