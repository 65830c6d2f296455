// Chaos: a few hundred runs at concurrency 50 against an upstream that misbehaves at random
// (seeded): 500s, 429s with Retry-After, stalls, mid-stream cuts, garbage chunks, latency spikes.
// Every stream must end with exactly one done or error, and nothing may be left behind.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMockUpstream, type MockUpstream, type Plan } from "./support/mock-upstream.js";
import { readSse, type SseRead } from "./support/sse-client.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

/** mulberry32: a tiny seeded PRNG, so a failing chaos run can be replayed exactly. */
function prng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.CHAOS_SEED ?? 20261123);
const RUNS = 300;
const CONCURRENCY = 50;

let upstream: MockUpstream;
let chorus: TestChorus;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  const random = prng(SEED);
  const tokens = (n: number) => Array.from({ length: n }, (_, i) => `tok${i} `);
  upstream = await startMockUpstream((): Plan => {
    const r = random();
    if (r < 0.08) return { status: 500 };
    if (r < 0.14) return { status: 429, retryAfter: "0" };
    if (r < 0.19) return { stallAfter: 2, tokens: tokens(6), tokenDelayMs: 2 };
    if (r < 0.24) return { cutAfter: 3, tokens: tokens(6), tokenDelayMs: 2 };
    if (r < 0.28) return { garbageAfter: 2, tokens: tokens(6) };
    if (r < 0.36) return { ttftMs: 150 + Math.floor(random() * 250), tokens: tokens(8) };
    return { tokens: tokens(5 + Math.floor(random() * 10)), tokenDelayMs: Math.floor(random() * 3) };
  });
  chorus = await startChorus({
    USE_LLM_MOCK: "false",
    LLM_BASE_URL: upstream.url,
    LLM_KEY: "sk-chaos",
    LLM_MAX_RETRIES: "1",
    AGENT_FIRST_TOKEN_TIMEOUT_MS: "2000",
    AGENT_STALL_TIMEOUT_MS: "250",
    FANOUT_DEADLINE_MS: "1500",
    MAX_CONCURRENT_LLM_CALLS: "64",
    MAX_STREAMS_PER_CLIENT: "100",
    RUN_RETENTION_S: "0",
    LOG_LEVEL: "warn",
  });
});

afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  await chorus.close();
  await upstream.close();
});

describe("chaos", () => {
  it(`${RUNS} runs at concurrency ${CONCURRENCY}: one terminal event each, nothing left open`, async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const results: SseRead[] = [];
    let next = 0;
    const worker = async () => {
      while (next < RUNS) {
        const i = next++;
        results.push(await readSse(`${chorus.url}/api/process`, { message: `chaos ${i}`, message_id: `chaos-${i}`, stream_agents: i % 2 === 0 }));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    const counts: Record<string, number> = {};
    for (const r of results) {
      expect(r.status).toBe(200);
      const terminal = r.events.filter((e) => e.event === "done" || e.event === "error");
      expect(terminal).toHaveLength(1);
      expect(r.events[r.events.length - 1]).toBe(terminal[0]);
      expect(r.events.map((e) => e.id)).toEqual(r.events.map((_, k) => k + 1));
      const key = terminal[0]!.event === "done" ? `done:${terminal[0]!.data.status}` : `error:${terminal[0]!.data.code}`;
      counts[key] = (counts[key] ?? 0) + 1;
      for (const e of r.events.filter((x) => x.event === "agent_error")) {
        expect(["upstream_error", "rate_limited", "timeout", "bad_response"]).toContain(e.data.error.code);
        expect(JSON.stringify(e.data)).not.toMatch(/SECRET|sk-chaos|at .*\.ts/);
      }
    }
    console.log(`chaos seed ${SEED}: ${JSON.stringify(counts)}; upstream calls ${upstream.calls.length}`);
    expect(results).toHaveLength(RUNS);
    expect(Object.keys(counts).length).toBeGreaterThan(2); // the chaos really happened

    expect(unhandled).toEqual([]);
    expect(chorus.chorus.registry.inFlight).toBe(0);
    await expect.poll(() => upstream.open(), { timeout: 5000 }).toBe(0);
    await expect
      .poll(() => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length, { timeout: 5000 })
      .toBeLessThanOrEqual(timersBefore);
  }, 120_000);
});
