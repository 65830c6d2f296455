// Resilience of the fan-out against a misbehaving upstream: streaming-aware timeouts, the
// fan-out deadline, retries, summarizer fallbacks, per-agent providers, budgets and overload.
import { mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { callerOf, startMockUpstream } from "./support/mock-upstream.js";
import { last, ofType, readSse } from "./support/sse-client.js";
import { fileUpstream } from "./support/file-upstream.js";
import type { TestChorus } from "./support/start-chorus.js";
import { tempDir } from "./support/temp-dir.js";

const { upstream, start } = await fileUpstream("sk-main");
let chorus: TestChorus | undefined;
let seq = 0;

afterEach(async () => {
  await chorus?.close();
  chorus = undefined;
});

const run = (extra: object = {}) => readSse(`${chorus!.url}/api/process`, { message: "Why?", message_id: `res-${++seq}`, ...extra });
const callsOf = (who: string) => upstream.calls.filter((c) => callerOf(c.body) === who);
const errorOf = (r: Awaited<ReturnType<typeof run>>, agent: string) => ofType(r, "agent_error").find((e) => e.data.agent === agent)?.data;

describe("streaming-aware timeouts", () => {
  it("cuts a call with no first token, and one that stalls, but never a long healthy answer", async () => {
    chorus = await start({ AGENT_FIRST_TOKEN_TIMEOUT_MS: "300", AGENT_STALL_TIMEOUT_MS: "300", AGENT_TIMEOUT_MS: "10000" });
    upstream.setPlanner((b) => {
      const who = callerOf(b);
      if (who === "analyst") return { ttftMs: 2000 };
      if (who === "critic") return { stallAfter: 2 };
      if (who === "explainer") return { tokens: Array.from({ length: 30 }, (_, i) => `w${i} `), tokenDelayMs: 40 };
      return {};
    });
    const r = await run();
    expect(errorOf(r, "analyst")).toMatchObject({ status: "timeout", error: { code: "timeout", message: expect.stringContaining("first token") } });
    expect(errorOf(r, "critic")).toMatchObject({ status: "timeout", error: { message: expect.stringContaining("no token for") } });
    const explainer = ofType(r, "agent_done").find((e) => e.data.agent === "explainer")!;
    expect(explainer.data.output.split(" ").filter(Boolean)).toHaveLength(30);
    expect(explainer.data.latency_ms).toBeGreaterThan(600); // longer than either guard
    expect(last(r).data.status).toBe("partial");
  });
});

describe("fan-out deadline", () => {
  it("summarizes what is there at FANOUT_DEADLINE_MS and cuts the straggler", async () => {
    chorus = await start({ FANOUT_DEADLINE_MS: "300" });
    upstream.setPlanner((b) => (callerOf(b) === "critic" ? { ttftMs: 5000 } : {}));
    const t0 = performance.now();
    const r = await run();
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(errorOf(r, "critic")).toMatchObject({ status: "timeout", error: { message: expect.stringContaining("fan-out deadline") } });
    expect(last(r)).toMatchObject({ event: "done", data: { status: "partial", agents: { ok: 2, failed: 1 } } });
    await expect.poll(() => callsOf("critic")[0]?.aborted).toBe(true);
  });

  it("waits past the deadline until MIN_AGENTS_OK have answered, and ends not_enough_agents when they cannot", async () => {
    chorus = await start({ FANOUT_DEADLINE_MS: "100", MIN_AGENTS_OK: "2" });
    upstream.setPlanner((b) => {
      const who = callerOf(b);
      if (who === "analyst") return { ttftMs: 400 };
      if (who === "critic") return { status: 500 };
      if (who === "explainer") return {};
      return {};
    });
    const r = await run();
    expect(ofType(r, "agent_done").map((e) => e.data.agent).sort()).toEqual(["analyst", "explainer"]);
    expect(last(r).data.status).toBe("partial");

    upstream.setPlanner((b) => (callerOf(b) === "explainer" ? {} : { status: 500 }));
    upstream.calls.length = 0;
    const r2 = await run();
    expect(last(r2)).toMatchObject({ event: "error", data: { code: "not_enough_agents" } });
    expect(callsOf("moderator")).toHaveLength(0);
  });
});

describe("retries", () => {
  it("retries a 503 and a 429 (honouring Retry-After) before the first token, never after it", async () => {
    chorus = await start({ LLM_MAX_RETRIES: "2" });
    upstream.setPlanner((b, n) => {
      const who = callerOf(b);
      const nth = upstream.calls.filter((c) => callerOf(c.body) === who).length;
      if (who === "analyst" && nth === 1) return { status: 503 };
      if (who === "critic" && nth === 1) return { status: 429, retryAfter: "1" };
      if (who === "explainer") return { cutAfter: 2, tokenDelayMs: 30 };
      void n;
      return {};
    });
    const r = await run();
    expect(callsOf("analyst")).toHaveLength(2);
    const critic = callsOf("critic");
    expect(critic).toHaveLength(2);
    expect(critic[1]!.at - critic[0]!.at).toBeGreaterThan(900);
    expect(callsOf("explainer")).toHaveLength(1); // tokens had streamed: no retry
    expect(ofType(r, "agent_done").map((e) => e.data.agent).sort()).toEqual(["analyst", "critic"]);
    expect(last(r).data.status).toBe("partial");
  });
});

describe("summarizer fallbacks", () => {
  it("tries the next model when the summarizer fails before its first token", async () => {
    chorus = await start({ SUMMARIZER_FALLBACK_MODELS: "backup-1,backup-2" });
    upstream.setPlanner((b) => (callerOf(b) === "moderator" && b.model !== "backup-2" ? { status: 500 } : {}));
    const r = await run();
    expect(callsOf("moderator").map((c) => c.body.model)).toEqual(["gpt-4o-mini", "backup-1", "backup-2"]);
    expect(last(r)).toMatchObject({ event: "done", data: { summary: expect.stringContaining("Answer from moderator") } });
  });

  it("retries a summarizer slow to start (SUMMARIZER_FIRST_TOKEN_TIMEOUT_MS) instead of waiting for it", async () => {
    chorus = await start({ SUMMARIZER_FIRST_TOKEN_TIMEOUT_MS: "300", SUMMARIZER_FALLBACK_MODELS: "gpt-4o-mini" });
    upstream.setPlanner((b) => (callerOf(b) === "moderator" && callsOf("moderator").length === 1 ? { ttftMs: 5000 } : {}));
    const t0 = performance.now();
    const r = await run();
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(last(r)).toMatchObject({ event: "done", data: { status: "ok" } });
    const tries = callsOf("moderator");
    expect(tries.map((c) => c.body.model)).toEqual(["gpt-4o-mini", "gpt-4o-mini"]);
    await expect.poll(() => tries[0]!.aborted).toBe(true);
  });

  it("replaces a summarizer that dies after streaming tokens: summary_restart, then the fallback's summary in done", async () => {
    chorus = await start({ SUMMARIZER_FALLBACK_MODELS: "backup-1" });
    upstream.setPlanner((b) =>
      callerOf(b) !== "moderator" ? {} : b.model === "backup-1" ? { tokens: ["second ", "summary"] } : { tokens: ["first ", "one ", "dies"], cutAfter: 2, tokenDelayMs: 30 },
    );
    const r = await run();
    const names = r.events.map((e) => e.event);
    const restart = names.indexOf("summary_restart");
    expect(names[restart - 1]).toBe("summary_delta"); // the first summarizer had streamed tokens
    expect(ofType(r, "summary_restart")[0]!.data.reason.code).toBe("upstream_error");
    expect(r.events.slice(restart + 1).filter((e) => e.event === "summary_delta").map((e) => e.data.delta).join("")).toBe("second summary");
    expect(last(r)).toMatchObject({ event: "done", data: { summary: "second summary" } });
    expect(callsOf("moderator").map((c) => c.body.model)).toEqual(["gpt-4o-mini", "backup-1"]);

    // Every summarizer fails: summarizer_failed, keeping the agents' outputs.
    upstream.setPlanner((b) => (callerOf(b) === "moderator" ? { status: 500 } : {}));
    upstream.calls.length = 0;
    const r2 = await run();
    expect(callsOf("moderator")).toHaveLength(2);
    expect(last(r2)).toMatchObject({ event: "error", data: { code: "summarizer_failed" } });
    expect(last(r2).data.outputs).toEqual(Object.fromEntries(ofType(r2, "agent_done").map((e) => [e.data.agent, e.data.output])));
  });
});

describe("per-agent providers", () => {
  it("sends an agent to its own base_url, model and key named by api_key_env", async () => {
    const other = await startMockUpstream();
    const dir = tempDir("providers");
    mkdirSync(join(dir, "agents"));
    writeFileSync(join(dir, "agents", "local.md"), `---\nbase_url: ${other.url}\nmodel: llama3\napi_key_env: OTHER_KEY\n---\nYou are the Local agent.`);
    writeFileSync(join(dir, "agents", "remote.md"), "You are the Remote agent.");
    writeFileSync(join(dir, "summarizer.md"), "You are the Moderator.");
    process.env.OTHER_KEY = "sk-other";
    try {
      chorus = await start({ PROMPTS_DIR: dir });
      const r = await run();
      expect(last(r).data.status).toBe("ok");
      expect(other.calls.map((c) => [callerOf(c.body), c.body.model, c.auth])).toEqual([["local", "llama3", "Bearer sk-other"]]);
      expect(upstream.calls.map((c) => [callerOf(c.body), c.auth]).sort()).toEqual([
        ["moderator", "Bearer sk-main"],
        ["remote", "Bearer sk-main"],
      ]);
      delete process.env.OTHER_KEY;
      await expect(start({ PROMPTS_DIR: dir })).rejects.toThrow(/api_key_env names OTHER_KEY, which is not set/);
    } finally {
      delete process.env.OTHER_KEY;
      await other.close();
    }
  });
});

describe("load and overload", () => {
  it("keeps to UPSTREAM_RPM: calls wait their turn and fail as rate_limited when no slot comes in time", async () => {
    chorus = await start({ UPSTREAM_RPM: "4", AGENT_TIMEOUT_MS: "500", SUMMARIZER_TIMEOUT_MS: "500" });
    expect(last(await run()).event).toBe("done");
    const r = await run();
    expect(ofType(r, "agent_error").map((e) => e.data.error.code)).toEqual(["rate_limited", "rate_limited", "rate_limited"]);
    expect(upstream.calls).toHaveLength(4);
  });

  it("answers 503 overloaded with Retry-After when too many runs wait for upstream capacity", async () => {
    // The first run's three agents take every slot; the second run waits; the third is refused.
    chorus = await start({ MAX_CONCURRENT_LLM_CALLS: "3", MAX_QUEUED_RUNS: "1" });
    upstream.setPlanner(() => ({ ttftMs: 300 }));
    const a = run();
    await new Promise((r) => setTimeout(r, 50));
    const b = run();
    await new Promise((r) => setTimeout(r, 50));
    const c = await chorus.post({ message: "x", message_id: "over-1" });
    expect(c.status).toBe(503);
    expect(c.headers.get("retry-after")).toBe("1");
    expect((await c.json()).error.code).toBe("overloaded");
    expect((await Promise.all([a, b])).map((r) => last(r).event)).toEqual(["done", "done"]);
  });

  it("answers 429 to a client past MAX_STREAMS_PER_CLIENT open streams", async () => {
    chorus = await start({ MAX_STREAMS_PER_CLIENT: "2" });
    upstream.setPlanner(() => ({ ttftMs: 400 }));
    const d = run();
    const e = run();
    await new Promise((r) => setTimeout(r, 100));
    const f = await chorus.post({ message: "x", message_id: "over-2" });
    expect(f.status).toBe(429);
    expect((await f.json()).error.message).toContain("open streams");
    await Promise.all([d, e]);
    // Streams given back: the client may open new ones.
    expect(last(await run()).event).toBe("done");
  });

  it("disconnects a client that reads nothing for SSE_WRITE_TIMEOUT_MS and cancels its run", async () => {
    // Answers allowed to grow far enough to fill the socket; no grace once the client is cut.
    chorus = await start({ SSE_WRITE_TIMEOUT_MS: "300", AGENT_STALL_TIMEOUT_MS: "30000", MAX_OUTPUT_CHARS: "100000000", RUN_ORPHAN_GRACE_MS: "0" });
    const big = "x".repeat(4000) + " ";
    upstream.setPlanner(() => ({ tokens: Array.from({ length: 3000 }, () => big), tokenDelayMs: 1 }));
    const { port } = new URL(chorus.url);
    const sock = connect(Number(port), "127.0.0.1");
    sock.pause(); // a client that never reads
    const body = JSON.stringify({ message: "flood", message_id: "slow-reader", stream_agents: true });
    sock.write(`POST /api/process HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    sock.on("error", () => {});
    await expect.poll(() => chorus!.chorus.registry.get("slow-reader")?.inFlight, { timeout: 10_000 }).toBe(false);
    const events = chorus.chorus.registry.get("slow-reader")!.log.events;
    expect(events[events.length - 1]!.data).toMatchObject({ code: "cancelled" });
    await expect.poll(() => upstream.calls.every((c) => c.closedAt !== undefined)).toBe(true);
    expect(upstream.calls.some((c) => c.aborted)).toBe(true);
    sock.destroy();
  });
});
