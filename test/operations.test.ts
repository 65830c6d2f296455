// Operating Chorus: request ids on responses and log lines, token usage that survives cancels
// and dying upstreams, cost from a price file, /ready, CORS, API_KEYS_FILE and security headers.
// Each test runs a real server (and, where an upstream must misbehave, a mock upstream).
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/env.js";
import { callerOf } from "./support/mock-upstream.js";
import { scrape } from "./support/prometheus.js";
import { last, ofType, parseSse, readSse, type SseRead } from "./support/sse-client.js";
import { fileUpstream } from "./support/file-upstream.js";
import { freePort } from "./support/free-port.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";
import { tempDir } from "./support/temp-dir.js";

const { upstream, start: viaUpstream } = await fileUpstream("sk-ops-secret");
let chorus: TestChorus | undefined;
const tmp = tempDir("ops");

afterEach(async () => {
  await chorus?.close();
  chorus = undefined;
});

const runLine = (c: TestChorus, messageId: string) => c.logs.find((l) => l.msg === "run finished" && l.message_id === messageId);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;


describe("X-Request-Id", () => {
  it("echoes a safe client id on the stream and puts it on the run's log line", async () => {
    chorus = await startChorus();
    const r = await readSse(`${chorus.url}/api/process`, { message: "trace me", message_id: "rid-1" }, { headers: { "x-request-id": "req-7f3a:edge.1" } });
    expect(r.status).toBe(200);
    expect(r.headers.get("x-request-id")).toBe("req-7f3a:edge.1");
    expect(last(r).event).toBe("done");
    await expect.poll(() => runLine(chorus!, "rid-1")).toMatchObject({ request_id: "req-7f3a:edge.1", message_id: "rid-1", status: "ok" });
    // Priced by the shipped prompts/prices.json: the mock's tokens at LLM_MODEL's (gpt-4o-mini) price.
    expect(last(r).data.cost_usd).toBeGreaterThan(0);
  });

  it("replaces an unsafe or overlong id, and generates one when none is sent, errors included", async () => {
    chorus = await startChorus();
    for (const bad of ["a".repeat(129), "has space", "<script>", "x\u00e9"]) {
      const res = await fetch(`${chorus.url}/health`, { headers: { "x-request-id": bad } });
      expect(res.headers.get("x-request-id")).toMatch(UUID);
    }
    const invalid = await chorus.post({ message: "" });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get("x-request-id")).toMatch(UUID);
    const notFound = await fetch(`${chorus.url}/nowhere`, { headers: { "x-request-id": "mine-404" } });
    expect(notFound.headers.get("x-request-id")).toBe("mine-404");
  });

  it("is echoed by the OpenAI-compatible stream and logged with its run", async () => {
    chorus = await startChorus();
    const res = await fetch(`${chorus.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "oai-req-1" },
      body: JSON.stringify({ model: "chorus", stream: true, messages: [{ role: "user", content: "hello" }] }),
    });
    expect(res.headers.get("x-request-id")).toBe("oai-req-1");
    const runId = res.headers.get("x-chorus-message-id")!;
    expect(await res.text()).toContain("[DONE]");
    await expect.poll(() => runLine(chorus!, runId)).toMatchObject({ request_id: "oai-req-1" });
  });
});

describe("token usage survives failures", () => {
  it("counts what an upstream sent before dying mid-stream, as an estimate, in events, logs and metrics", async () => {
    chorus = await viaUpstream();
    upstream.setPlanner((b) => (callerOf(b) === "critic" ? { cutAfter: 3, tokenDelayMs: 20 } : {}));
    const r = await readSse(`${chorus.url}/api/process`, { message: "Why is the sky blue?", message_id: "cut-1", stream_agents: true });
    const critic = ofType(r, "agent_error").find((e) => e.data.agent === "critic")!.data;
    expect(critic.status).toBe("error");
    // Some of "Answer ", "from ", "critic: " arrived before the cut: ~4 characters a token; the prompt is estimated too.
    const received = ofType(r, "agent_delta").filter((e) => e.data.agent === "critic").map((e) => e.data.delta).join("");
    expect(received.length).toBeGreaterThan(0);
    expect(critic.usage).toMatchObject({ estimated: true, completion_tokens: Math.ceil(received.length / 4) });
    expect(critic.usage.prompt_tokens).toBeGreaterThan(10);
    const done = last(r);
    expect(done).toMatchObject({ event: "done", data: { status: "partial", usage: { estimated: true } } });
    // The run's total holds the survivors' upstream counts (10 prompt tokens each) and the estimate.
    expect(done.data.usage.prompt_tokens).toBe(10 * 3 + critic.usage.prompt_tokens);

    await expect.poll(() => runLine(chorus!, "cut-1")).toBeTruthy();
    const line = runLine(chorus, "cut-1");
    expect(line.agents.find((a: any) => a.agent === "critic")).toMatchObject({ code: "upstream_error", usage: critic.usage });
    expect(line.usage).toEqual(done.data.usage);
    const m = await scrape(chorus.url);
    expect(m.get("chorus_llm_tokens_total", { agent: "critic", direction: "output", estimated: "true" })).toBe(critic.usage.completion_tokens);
    expect(m.get("chorus_upstream_calls_total", { agent: "critic", outcome: "upstream_error" })).toBe(1);
    expect(chorus.logText()).not.toContain("sk-ops-secret");
  });

  it("counts what every agent had received when the run is cancelled", async () => {
    chorus = await viaUpstream();
    upstream.setPlanner(() => ({ tokens: Array.from({ length: 200 }, (_, i) => `word${i} `), tokenDelayMs: 25 }));
    const url = `${chorus.url}/api/process`;
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: "cancel me", message_id: "cancel-1", stream_agents: true }),
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const r: SseRead = { status: res.status, headers: res.headers, events: [], comments: [], headersAt: 0 };
    let buf = "";
    let cancelled = false;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const parsed = parseSse((buf += decoder.decode(value, { stream: true })));
      buf = parsed.rest;
      r.events.push(...parsed.events);
      const streaming = new Set(ofType(r, "agent_delta").map((e) => e.data.agent));
      // Cancel once every agent has streamed something; keep reading to the end of the run.
      if (!cancelled && streaming.size === 3) {
        cancelled = true;
        expect((await fetch(`${url}/cancel-1`, { method: "DELETE" })).status).toBe(202);
      }
    }
    expect(last(r)).toMatchObject({ event: "error", data: { code: "cancelled" } });
    const errors = ofType(r, "agent_error");
    expect(errors).toHaveLength(3);
    for (const e of errors) {
      // Exactly the text streamed so far, at ~4 characters a token.
      const text = ofType(r, "agent_delta").filter((d) => d.data.agent === e.data.agent).map((d) => d.data.delta).join("");
      expect(e.data).toMatchObject({ status: "cancelled", usage: { estimated: true, completion_tokens: Math.ceil(text.length / 4) } });
      expect(e.data.usage.completion_tokens).toBeGreaterThan(0);
    }
    await expect.poll(() => runLine(chorus!, "cancel-1")).toBeTruthy();
    const line = runLine(chorus, "cancel-1");
    expect(line).toMatchObject({ status: "error", code: "cancelled", usage: { estimated: true } });
    expect(line.usage.completion_tokens).toBe(errors.reduce((n, e) => n + e.data.usage.completion_tokens, 0));
    const m = await scrape(chorus.url);
    expect(m.get("chorus_llm_tokens_total", { direction: "output", estimated: "true" })).toBe(line.usage.completion_tokens);
    expect(m.get("chorus_runs_total", { status: "error", code: "cancelled" })).toBe(1);
  });
});

describe("cost from a price file", () => {
  const prices = { "gpt-4o-mini": { input_per_1m: 1000, output_per_1m: 2000 } };
  const cost = (u: { prompt_tokens: number; completion_tokens: number }) => Math.round((u.prompt_tokens * 1000 + u.completion_tokens * 2000) / 1e6 * 1e8) / 1e8;

  it("adds cost_usd to agent_done and done with PRICES_FILE, and counts it in the metrics", async () => {
    const file = join(tmp, "prices.json");
    writeFileSync(file, JSON.stringify(prices));
    chorus = await startChorus({ PRICES_FILE: file });
    const r = await readSse(`${chorus.url}/api/process`, { message: "What does it cost?", message_id: "cost-1" });
    for (const e of ofType(r, "agent_done")) expect(e.data.cost_usd).toBeCloseTo(cost(e.data.usage), 8);
    const done = last(r).data;
    expect(done.cost_usd).toBeCloseTo(cost(done.usage), 6);
    expect(done.usage).not.toHaveProperty("estimated");
    await expect.poll(() => runLine(chorus!, "cost-1")?.cost_usd).toBeCloseTo(done.cost_usd, 8);
    expect((await scrape(chorus.url)).get("chorus_llm_cost_usd_total")).toBeCloseTo(done.cost_usd, 6);
  });

  it("reads <PROMPTS_DIR>/prices.json by default; a model without a price gets no cost", async () => {
    const dir = join(tmp, "prompts-priced");
    cpSync("prompts", dir, { recursive: true });
    writeFileSync(join(dir, "prices.json"), JSON.stringify(prices));
    chorus = await startChorus({ PROMPTS_DIR: dir });
    const priced = await readSse(`${chorus.url}/api/process`, { message: "priced", message_id: "cost-2" });
    expect(last(priced).data.cost_usd).toBeGreaterThan(0);
    await chorus.close();
    chorus = await startChorus({ PROMPTS_DIR: dir, LLM_MODEL: "unpriced-model" });
    const unpriced = await readSse(`${chorus.url}/api/process`, { message: "unpriced", message_id: "cost-3" });
    expect(last(unpriced).data.usage.total_tokens).toBeGreaterThan(0);
    expect(last(unpriced).data).not.toHaveProperty("cost_usd");
  });

  it("refuses to start on a missing or malformed price file, naming PRICES_FILE", () => {
    expect(() => parseConfig({ PRICES_FILE: join(tmp, "absent.json") })).toThrow(/PRICES_FILE: .*absent\.json: cannot read/);
    const bad = join(tmp, "bad-prices.json");
    writeFileSync(bad, JSON.stringify({ "gpt-4o-mini": { input: 1 } }));
    expect(() => parseConfig({ PRICES_FILE: bad })).toThrow(/PRICES_FILE: .*input_per_1m/);
  });

  it("ships prompts/prices.json with its note and the common OpenAI models", () => {
    const { prices } = parseConfig({});
    for (const model of ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-nano"]) {
      expect(prices?.[model]?.output_per_1m, model).toBeGreaterThan(0);
    }
    expect(prices).not.toHaveProperty("_note"); // the note says when the prices were taken; it is no model
    const noted = join(tmp, "noted-prices.json");
    writeFileSync(noted, JSON.stringify({ _note: "taken today", m: { input_per_1m: 1, output_per_1m: 2 } }));
    expect(parseConfig({ PRICES_FILE: noted }).prices).toEqual({ m: { input_per_1m: 1, output_per_1m: 2 } });
  });
});

describe("GET /ready", () => {
  it("is ready with the mock LLM, and 503 while draining", async () => {
    chorus = await startChorus();
    const res = await fetch(`${chorus.url}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready", checks: { prompts: "ok", llm: "ok (mock)" } });
    chorus.chorus.state.draining = true;
    expect((await fetch(`${chorus.url}/ready`)).status).toBe(503);
  });

  it("probes the real endpoint's /models: ready when it answers", async () => {
    chorus = await viaUpstream();
    const res = await fetch(`${chorus.url}/ready`);
    expect(await res.json()).toEqual({ status: "ready", checks: { prompts: "ok", llm: "ok" } });
  });

  it("is 503 naming the check when the LLM endpoint is unreachable, without the key", async () => {
    const port = await freePort(); // nothing listens there
    chorus = await startChorus({ USE_LLM_MOCK: "false", LLM_BASE_URL: `http://127.0.0.1:${port}/v1`, LLM_KEY: "sk-ready-secret" });
    const res = await fetch(`${chorus.url}/ready`);
    expect(res.status).toBe(503);
    const body = await res.json();
    expect(body).toMatchObject({ status: "unready", checks: { prompts: "ok", llm: `unreachable: 127.0.0.1:${port}: ECONNREFUSED` } });
    expect(JSON.stringify(body)).not.toContain("sk-ready-secret");
    expect((await fetch(`${chorus.url}/health`)).status).toBe(200); // alive, just not ready
  });
});

describe("CORS", () => {
  const origin = "https://app.example.com";
  const preflight = (url: string, from: string) =>
    fetch(url, {
      method: "OPTIONS",
      headers: { origin: from, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, last-event-id, x-request-id" },
    });

  it("answers the preflight for an allowed origin (before auth), and not for another", async () => {
    chorus = await startChorus({ CORS_ORIGINS: `${origin}, https://other.example.org`, API_KEYS: "cors-key" });
    const ok = await preflight(`${chorus.url}/api/process`, origin);
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe(origin);
    expect(ok.headers.get("access-control-allow-methods")).toContain("POST");
    const allowed = ok.headers.get("access-control-allow-headers")!.toLowerCase().split(",");
    expect(allowed).toEqual(expect.arrayContaining(["authorization", "content-type", "last-event-id", "x-request-id"]));

    const evil = await preflight(`${chorus.url}/api/process`, "https://evil.example.net");
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();

    // The real request: the SSE stream carries the CORS headers and exposes what clients read.
    const r = await readSse(`${chorus.url}/api/process`, { message: "from a browser", message_id: "cors-1" }, {
      headers: { origin, authorization: "Bearer cors-key" },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get("access-control-allow-origin")).toBe(origin);
    const exposed = r.headers.get("access-control-expose-headers")!.toLowerCase();
    for (const h of ["ratelimit-remaining", "retry-after", "x-request-id"]) expect(exposed).toContain(h);
    expect(last(r).event).toBe("done");
    const models = await fetch(`${chorus.url}/v1/models`, { headers: { origin, authorization: "Bearer cors-key" } });
    expect(models.headers.get("access-control-allow-origin")).toBe(origin);
  });

  it("is off by default", async () => {
    chorus = await startChorus();
    const res = await preflight(`${chorus.url}/api/process`, origin);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const get = await fetch(`${chorus.url}/v1/models`, { headers: { origin } });
    expect(get.status).toBe(200);
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("refuses a CORS_ORIGINS entry that is not an origin", () => {
    expect(() => parseConfig({ CORS_ORIGINS: "https://app.example.com/path" })).toThrow(/CORS_ORIGINS/);
  });
});

describe("API_KEYS_FILE", () => {
  it("adds the file's keys (comments and blank lines skipped) to API_KEYS, and never logs them", async () => {
    const file = join(tmp, "keys.txt");
    writeFileSync(file, "# Chorus keys, one per line\n\nfile-key-alpha\n  file-key-beta  \n# file-key-retired\n");
    chorus = await startChorus({ API_KEYS_FILE: file, API_KEYS: "inline-key" });
    const ask = (key: string, id: string) =>
      readSse(`${chorus!.url}/api/process`, { message: "keys", message_id: id }, { headers: { authorization: `Bearer ${key}` } });
    expect((await ask("file-key-beta", "keys-1")).status).toBe(200);
    expect((await ask("inline-key", "keys-2")).status).toBe(200);
    const retired = await ask("file-key-retired", "keys-3");
    expect(retired.status).toBe(401);
    expect(retired.events[0]!.data).toMatchObject({ error: { code: "unauthorized" } });
    const text = chorus.logText();
    for (const k of ["file-key-alpha", "file-key-beta", "inline-key"]) expect(text).not.toContain(k);
  });

  it("refuses to start on a missing file or one without keys, without echoing its lines", () => {
    expect(() => parseConfig({ API_KEYS_FILE: join(tmp, "absent-keys.txt") })).toThrow(/API_KEYS_FILE: cannot read .*ENOENT/);
    const empty = join(tmp, "empty-keys.txt");
    writeFileSync(empty, "# nothing yet\n\n");
    expect(() => parseConfig({ API_KEYS_FILE: empty })).toThrow(/API_KEYS_FILE: .*holds no keys/);
    const spaced = join(tmp, "spaced-keys.txt");
    writeFileSync(spaced, "ok-key\nsecret half\n");
    expect(() => parseConfig({ API_KEYS_FILE: spaced })).toThrow(/line 2/);
    expect(() => parseConfig({ API_KEYS_FILE: spaced })).not.toThrow(/secret/);
  });
});

describe("security headers", () => {
  it("are on every response; the web page and /docs keep their own CSP and still load", async () => {
    chorus = await startChorus();
    const health = await fetch(`${chorus.url}/health`);
    expect(health.headers.get("x-content-type-options")).toBe("nosniff");
    expect(health.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(health.headers.get("strict-transport-security")).toContain("max-age=");
    expect(health.headers.get("referrer-policy")).toBe("no-referrer");
    expect(health.headers.get("cross-origin-opener-policy")).toBe("same-origin");

    const page = await fetch(`${chorus.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="app.js">');
    const pageCsp = page.headers.get("content-security-policy")!;
    expect(pageCsp).toContain("script-src 'self'");
    expect(pageCsp).toContain("connect-src 'self'");
    expect(page.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    for (const asset of ["/app.js", "/style.css"]) {
      const res = await fetch(`${chorus.url}${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-security-policy")).toBe(pageCsp);
    }

    const docs = await fetch(`${chorus.url}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get("content-security-policy")).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(docs.headers.get("x-content-type-options")).toBe("nosniff");

    const stream = await readSse(`${chorus.url}/api/process`, { message: "headers", message_id: "sec-1" });
    expect(stream.headers.get("x-content-type-options")).toBe("nosniff");
    const refused = await chorus.post("not json");
    expect(refused.status).toBe(400);
    expect(refused.headers.get("x-frame-options")).toBe("SAMEORIGIN");
  });
});
