// Configuration and prompt files: what a user sees when a setting or a prompt is wrong.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, parseConfig } from "../src/config/env.js";
import { loadPrompts } from "../src/config/prompts.js";
import { tempDir } from "./support/temp-dir.js";

describe("configuration", () => {
  it("has safe defaults: mock LLM on :8080", () => {
    const c = parseConfig({});
    expect(c).toMatchObject({ USE_LLM_MOCK: true, port: 8080, host: undefined, MAX_MESSAGE_CHARS: 16000, MAX_BODY_BYTES: 65536 });
  });

  it("parses HTTP_ADDR forms", () => {
    expect(parseConfig({ HTTP_ADDR: "127.0.0.1:9000" })).toMatchObject({ host: "127.0.0.1", port: 9000 });
    expect(parseConfig({ HTTP_ADDR: "[::1]:9001" })).toMatchObject({ host: "::1", port: 9001 });
    expect(() => parseConfig({ HTTP_ADDR: "8080" })).toThrow(/HTTP_ADDR: must be \[host\]:port/);
    expect(() => parseConfig({ HTTP_ADDR: ":99999" })).toThrow(/HTTP_ADDR: port/);
  });

  it("names each bad variable and its rule", () => {
    const both = () => parseConfig({ AGENT_TIMEOUT_MS: "soon", USE_LLM_MOCK: "maybe" });
    expect(both).toThrow(/\n  AGENT_TIMEOUT_MS: /);
    expect(both).toThrow(/\n  USE_LLM_MOCK: /);
    expect(() => parseConfig({ MOCK_FAILURE_RATE: "2" })).toThrow(/MOCK_FAILURE_RATE/);
    expect(() => parseConfig({ LOG_LEVEL: "loud" })).toThrow(/LOG_LEVEL/);
  });

  it("reads the egress proxy as curl does (lower case wins), and never echoes a bad proxy URL", () => {
    expect(parseConfig({}).proxy).toBeUndefined();
    expect(parseConfig({ NO_PROXY: "localhost" }).proxy).toBeUndefined(); // no proxy to bypass
    expect(parseConfig({ HTTPS_PROXY: "http://p:3128", NO_PROXY: "localhost" }).proxy).toEqual({ httpsProxy: "http://p:3128", noProxy: "localhost" });
    expect(parseConfig({ HTTP_PROXY: "http://upper:1", http_proxy: "http://lower:2" }).proxy?.httpProxy).toBe("http://lower:2");
    const bad = () => parseConfig({ HTTPS_PROXY: "proxy.internal:3128 secret-pass" });
    expect(bad).toThrow(/HTTPS_PROXY: must be an http:\/\/ or https:\/\/ URL/);
    expect(bad).not.toThrow(/secret-pass/);
  });

  it("reads 'false' as false (not a truthy string)", () => {
    expect(parseConfig({ USE_LLM_MOCK: "false", LLM_KEY: "k" }).USE_LLM_MOCK).toBe(false);
    expect(parseConfig({ PRODUCTION: "false" }).PRODUCTION).toBe(false);
  });

  it("needs a key for OpenAI when the mock is off, accepts OPENAI_API_KEY, and none for a local server", () => {
    expect(() => parseConfig({ USE_LLM_MOCK: "false" })).toThrow(/LLM_KEY: is required/);
    expect(parseConfig({ USE_LLM_MOCK: "false", OPENAI_API_KEY: "sk-x" }).llmKey).toBe("sk-x");
    expect(parseConfig({ USE_LLM_MOCK: "false", LLM_KEY: "sk-a", OPENAI_API_KEY: "sk-b" }).llmKey).toBe("sk-a");
    const ollama = parseConfig({ USE_LLM_MOCK: "false", LLM_BASE_URL: "http://localhost:11434/v1" });
    expect(ollama.llmKey).toBe("not-needed");
  });

  it("reads .env without overriding variables already set", () => {
    const dir = tempDir("env");
    writeFileSync(join(dir, ".env"), "MAX_MESSAGE_CHARS=123\nRATE_LIMIT_POINTS=7\n");
    process.env.RATE_LIMIT_POINTS = "9";
    try {
      const c = loadConfig(join(dir, ".env"));
      expect(c.MAX_MESSAGE_CHARS).toBe(123);
      expect(c.RATE_LIMIT_POINTS).toBe(9);
    } finally {
      delete process.env.RATE_LIMIT_POINTS;
      delete process.env.MAX_MESSAGE_CHARS;
    }
  });
});

function promptsDir(files: Record<string, string>) {
  const dir = tempDir("prompts");
  mkdirSync(join(dir, "agents"));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

describe("the documentation of the configuration", () => {
  it("lists every variable of .env in the README's configuration table", () => {
    const vars = [...readFileSync(".env", "utf8").matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
    const readme = readFileSync("README.md", "utf8");
    const table = /^## Configuration\n([\s\S]*?)\n## /m.exec(readme)![1]!;
    const rows = table.split("\n").filter((l) => l.startsWith("| `"));
    expect(vars.length).toBeGreaterThan(40);
    expect(vars.filter((v) => !rows.some((r) => r.includes(`\`${v}\``)))).toEqual([]);
  });
});

describe("prompt files", () => {
  it("ships at least three agents with distinct roles and a summarizer", () => {
    const p = loadPrompts("prompts");
    expect(p.agents.map((a) => a.name)).toEqual(["analyst", "critic", "explainer"]);
    expect(new Set(p.agents.map((a) => a.system)).size).toBe(3);
    expect(p.agents[0]!.settings).toMatchObject({ temperature: 0.3, max_tokens: 600 });
    expect(p.summarizer.system).toMatch(/failed/);
  });

  it("reads header settings and the body", () => {
    const dir = promptsDir({
      "agents/solo.md": "---\nmodel: llama3\ntemperature: 0.5\ntimeout_ms: 900\n---\nBe brief.\n",
      "summarizer.md": "Sum up.",
    });
    const p = loadPrompts(dir);
    expect(p.agents[0]).toEqual({ name: "solo", system: "Be brief.", settings: { model: "llama3", temperature: 0.5, timeout_ms: 900 } });
  });

  it.each([
    [{ "agents/a.md": "---\ntemperature: hot\n---\nx", "summarizer.md": "s" }, /a\.md: bad header \(temperature/],
    [{ "agents/a.md": "---\ncolour: red\n---\nx", "summarizer.md": "s" }, /a\.md: bad header/],
    [{ "agents/a.md": "---\nnot a pair\n---\nx", "summarizer.md": "s" }, /a\.md: header line/],
    [{ "agents/a.md": "---\nmodel: m\n---\n  \n", "summarizer.md": "s" }, /a\.md: the prompt body is empty/],
    [{ "agents/Bad Name.md": "x", "summarizer.md": "s" }, /agent names are lower-case/],
    [{ "agents/a.md": "x" }, /summarizer\.md: cannot read/],
    [{ "summarizer.md": "s" }, /no agent prompts/],
  ])("refuses a broken folder with the file at fault (%#)", (files, error) => {
    expect(() => loadPrompts(promptsDir(files))).toThrow(error);
  });

  it("refuses a missing folder, pointing at PROMPTS_DIR", () => {
    expect(() => loadPrompts("/nonexistent/prompts")).toThrow(/PROMPTS_DIR/);
  });
});
