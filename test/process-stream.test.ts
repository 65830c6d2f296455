// POST /api/process end to end: a real server, the real openai SDK, a mock upstream over HTTP,
// and a real HTTP client reading the SSE bytes.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { callerOf, startMockUpstream, type MockUpstream } from "./support/mock-upstream.js";
import { last, names, ofType, readSse } from "./support/sse-client.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

let upstream: MockUpstream;
let chorus: TestChorus;
let seq = 0;
const id = () => `msg-${++seq}`;

beforeAll(async () => {
  upstream = await startMockUpstream();
  chorus = await startChorus({
    USE_LLM_MOCK: "false",
    LLM_BASE_URL: upstream.url,
    LLM_KEY: "sk-test-SECRET-KEY-123",
    LLM_MAX_RETRIES: "0",
    AGENT_TIMEOUT_MS: "1500",
    SSE_HEARTBEAT_MS: "60",
    // No grace: a run whose client leaves is cancelled at once (the default waits 10 s for a resume).
    RUN_ORPHAN_GRACE_MS: "0",
  });
});
afterAll(async () => {
  await chorus.close();
  await upstream.close();
});
afterEach(() => {
  upstream.setPlanner(() => ({}));
  upstream.calls.length = 0;
});

const process = (extra: object = {}) =>
  readSse(`${chorus.url}/api/process`, { message: "Explain gravity like I am 5", message_id: id(), ...extra });

describe("a successful run", () => {
  it("streams start, every agent, summary tokens as they come, and done", async () => {
    upstream.setPlanner((b) => (callerOf(b) === "moderator" ? { tokens: ["Gravity ", "pulls ", "things ", "together."], tokenDelayMs: 40 } : {}));
    const r = await process();
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(r.headers.get("cache-control")).toContain("no-cache");
    expect(r.headers.get("x-accel-buffering")).toBe("no");
    expect(r.events.map((e) => e.id)).toEqual(r.events.map((_, i) => i + 1));
    expect(r.events[0]).toMatchObject({ event: "start", data: { agents: ["analyst", "critic", "explainer"] } });
    expect(ofType(r, "agent_start").map((e) => e.data.agent).sort()).toEqual(["analyst", "critic", "explainer"]);
    const done = ofType(r, "agent_done");
    expect(done.map((e) => e.data.agent).sort()).toEqual(["analyst", "critic", "explainer"]);
    expect(done[0]!.data).toMatchObject({ status: "ok", output: expect.stringContaining("Answer from"), usage: { prompt_tokens: 10 } });
    const deltas = ofType(r, "summary_delta");
    expect(deltas.map((e) => e.data.delta).join("")).toBe("Gravity pulls things together.");
    // True streaming: the tokens arrive spread over time, not in one burst at the end.
    expect(deltas[3]!.at - deltas[0]!.at).toBeGreaterThan(80);
    expect(last(r)).toMatchObject({
      event: "done",
      data: { status: "ok", agents: { ok: 3, failed: 0 }, summary: "Gravity pulls things together." },
    });
    // 3 agents + summarizer, each 10 prompt tokens in the mock's usage.
    expect(last(r).data.usage.prompt_tokens).toBe(40);
  });

  it("sends headers before any LLM has answered, and heartbeats while waiting", async () => {
    upstream.setPlanner(() => ({ ttftMs: 400 }));
    const r = await process();
    expect(r.headersAt).toBeLessThan(350);
    expect(r.comments).toContain("ping");
    expect(last(r).event).toBe("done");
  });

  it("runs agents concurrently: total time is near the slowest agent plus the summarizer, not the sum", async () => {
    upstream.setPlanner((b) => (callerOf(b) === "moderator" ? {} : { ttftMs: 600 }));
    const t0 = performance.now();
    const r = await process();
    const total = performance.now() - t0;
    expect(last(r).event).toBe("done");
    const starts = upstream.calls.slice(0, 3).map((c) => c.at);
    expect(Math.max(...starts) - Math.min(...starts)).toBeLessThan(300);
    expect(total).toBeLessThan(1500); // sequential would be at least 1800
  });

  it("gives the summarizer the question and each answer labelled with its agent", async () => {
    await process();
    const summarizer = upstream.calls.find((c) => callerOf(c.body) === "moderator")!;
    const user = summarizer.body.messages.find((m) => m.role === "user")!.content;
    expect(user).toContain("Explain gravity like I am 5");
    for (const a of ["analyst", "critic", "explainer"]) expect(user).toContain(`### ${a} (answered)`);
    expect(summarizer.body.messages[0]!.content).toContain("moderator of a panel");
  });

  it("runs only the requested agents and streams their tokens with stream_agents", async () => {
    const r = await process({ agents: ["critic", "analyst"], stream_agents: true });
    expect(r.events[0]!.data.agents).toEqual(["critic", "analyst"]);
    expect(upstream.calls.map((c) => callerOf(c.body)).sort()).toEqual(["analyst", "critic", "moderator"]);
    const deltas = ofType(r, "agent_delta").filter((e) => e.data.agent === "critic");
    expect(deltas.map((e) => e.data.delta).join("")).toBe(ofType(r, "agent_done").find((e) => e.data.agent === "critic")!.data.output);
    expect(last(r).data.agents).toEqual({ ok: 2, failed: 0 });
  });

  it("logs one line per run with message_id, each agent's outcome and the total latency, never the key", async () => {
    upstream.setPlanner((b) => (callerOf(b) === "critic" ? { status: 500 } : {}));
    const r = await process();
    const mid = r.events[0]!.data.message_id;
    const line = chorus.logs.find((l) => l.message_id === mid && l.msg === "run finished");
    expect(line).toMatchObject({ status: "partial", latency_ms: expect.any(Number) });
    expect(line.agents).toContainEqual({ agent: "critic", status: "error", code: "upstream_error", latency_ms: expect.any(Number) });
    expect(chorus.logText()).not.toContain("SECRET");
  });
});

describe("failures", () => {
  it("tolerates one failing agent: agent_error, summary from the rest, done partial", async () => {
    upstream.setPlanner((b) => (callerOf(b) === "critic" ? { status: 500 } : {}));
    const r = await process();
    const err = ofType(r, "agent_error");
    expect(err).toHaveLength(1);
    expect(err[0]!.data).toMatchObject({ agent: "critic", status: "error", error: { code: "upstream_error" } });
    expect(JSON.stringify(err[0]!.data)).not.toContain("SECRET");
    expect(last(r)).toMatchObject({ event: "done", data: { status: "partial", agents: { ok: 2, failed: 1 } } });
    const summarizer = upstream.calls.find((c) => callerOf(c.body) === "moderator")!;
    expect(summarizer.body.messages[1]!.content).toContain("- critic: upstream_error");
  });

  it("reports an agent that runs out of AGENT_TIMEOUT_MS as timeout and aborts its call", async () => {
    upstream.setPlanner((b) => (callerOf(b) === "analyst" ? { stallAfter: 1 } : {}));
    const r = await process();
    expect(ofType(r, "agent_error")[0]!.data).toMatchObject({ agent: "analyst", status: "timeout", error: { code: "timeout" } });
    expect(last(r).data.status).toBe("partial");
    await expect.poll(() => upstream.calls.find((c) => callerOf(c.body) === "analyst")!.aborted).toBe(true);
  });

  it("maps a 429 to rate_limited, a garbage chunk and an empty answer to bad_response", async () => {
    upstream.setPlanner((b) => {
      const who = callerOf(b);
      if (who === "analyst") return { status: 429, retryAfter: "1" };
      if (who === "critic") return { garbageAfter: 1 };
      if (who === "explainer") return { tokens: [] };
      return {};
    });
    const r = await process();
    const codes = Object.fromEntries(ofType(r, "agent_error").map((e) => [e.data.agent, e.data.error.code]));
    expect(codes).toEqual({ analyst: "rate_limited", critic: "bad_response", explainer: "bad_response" });
    expect(last(r)).toMatchObject({ event: "error", data: { code: "all_agents_failed" } });
  });

  it("reads any well-formed SSE (CRLF, comments, split multi-byte characters), and fails an error event or an endless line", async () => {
    const chunkOf = (content: string) => JSON.stringify({ id: "x", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content } }] });
    const wire = Buffer.from(
      `: keep-alive comment\r\n\r\ndata: ${chunkOf("Caf\u00e9 ")}\r\n\r\ndata:${chunkOf("\u{1F389} ")}\n\nevent: message\ndata: ${chunkOf("done.")}\n\ndata: [DONE]\n\n`,
    );
    const emoji = wire.indexOf(Buffer.from("\u{1F389}"));
    // Cut inside "é", inside the 4-byte emoji, and inside the [DONE] line.
    const cuts = [wire.indexOf(Buffer.from("\u00e9")) + 1, emoji + 2, wire.length - 5];
    const body = [0, ...cuts].map((from, i) => wire.subarray(from, cuts[i] ?? wire.length));
    upstream.setPlanner((b) => {
      const who = callerOf(b);
      if (who === "moderator") return { body };
      if (who === "critic") return { body: [Buffer.from(`data: ${chunkOf("half")}\n\ndata: {"error":{"message":"overloaded"}}\n\n`)] };
      if (who === "analyst") return { body: [Buffer.from(`data: ${chunkOf("then ")}\n\n`), Buffer.alloc(1_200_000, "x")] };
      return {};
    });
    const r = await process();
    const errors = Object.fromEntries(ofType(r, "agent_error").map((e) => [e.data.agent, e.data.error.code]));
    expect(errors).toEqual({ critic: "upstream_error", analyst: "bad_response" }); // 1.2 MB without an event break
    expect(ofType(r, "summary_delta").map((e) => e.data.delta)).toEqual(["Caf\u00e9 ", "\u{1F389} ", "done."]);
    expect(last(r).data).toMatchObject({ status: "partial", summary: "Caf\u00e9 \u{1F389} done." });
  });

  it("treats a connection cut mid-stream as an agent failure", async () => {
    upstream.setPlanner((b) => (callerOf(b) === "explainer" ? { cutAfter: 2 } : {}));
    const r = await process();
    expect(ofType(r, "agent_error")[0]!.data).toMatchObject({ agent: "explainer", error: { code: "upstream_error" } });
    expect(last(r).data.status).toBe("partial");
  });

  it("ends with one error event and makes no summarizer call when every agent fails", async () => {
    upstream.setPlanner(() => ({ status: 503 }));
    const r = await process();
    expect(ofType(r, "agent_error")).toHaveLength(3);
    expect(names(r).filter((n) => n === "error" || n === "done")).toEqual(["error"]);
    expect(last(r)).toMatchObject({ event: "error", data: { code: "all_agents_failed" } });
    expect(upstream.calls).toHaveLength(3);
  });

  it("ends with summarizer_failed when the summarizer dies mid-stream, keeping the agents' outputs", async () => {
    upstream.setPlanner((b) => (callerOf(b) === "moderator" ? { cutAfter: 2, tokenDelayMs: 5 } : {}));
    const r = await process();
    expect(ofType(r, "summary_delta").length).toBeGreaterThan(0);
    expect(last(r)).toMatchObject({ event: "error", data: { code: "summarizer_failed" } });
    expect(Object.keys(last(r).data.outputs).sort()).toEqual(["analyst", "critic", "explainer"]);
  });
});

describe("client disconnect", () => {
  it("aborts every upstream call of the run within a second of the client leaving (on_disconnect cancel, RUN_ORPHAN_GRACE_MS=0)", async () => {
    upstream.setPlanner(() => ({ tokens: Array.from({ length: 200 }, (_, i) => `t${i} `), tokenDelayMs: 20 }));
    const r = await readSse(
      `${chorus.url}/api/process`,
      { message: "long one", message_id: id(), stream_agents: true, on_disconnect: "cancel" },
      { until: (evs) => evs.filter((e) => e.event === "agent_delta").length >= 6 },
    );
    const left = performance.now();
    const connections = upstream.connections();
    expect(r.events.some((e) => e.event === "done")).toBe(false);
    await expect.poll(() => upstream.calls.length === 3 && upstream.calls.every((c) => c.closedAt !== undefined), { timeout: 3000, interval: 20 }).toBe(true);
    for (const c of upstream.calls) {
      expect(c.aborted).toBe(true);
      expect(c.closedAt! - left).toBeLessThan(1000);
    }
    await expect.poll(() => chorus.chorus.registry.inFlight).toBe(0);
    // An aborted call opens no connection after it (undici would, for nothing: scripts/patch-undici.mjs).
    await new Promise((r) => setTimeout(r, 300));
    expect(upstream.connections()).toBe(connections);
  });
});
