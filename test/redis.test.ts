// Scale-out on a real redis-server: two Chorus instances sharing runs, rate limits and
// ownership of message_ids, and what happens when Redis dies mid-run.
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { callerOf, startMockUpstream, type MockUpstream } from "./support/mock-upstream.js";
import { scrape } from "./support/prometheus.js";
import { startRedis, type TestRedis } from "./support/redis-server.js";
import { last, ofType, readSse } from "./support/sse-client.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

let redis: TestRedis;
let upstream: MockUpstream;
let a: TestChorus;
let b: TestChorus;
let seq = 0;
const id = () => `redis-${++seq}-${Date.now()}`;

const env = () => ({
  USE_LLM_MOCK: "false",
  LLM_BASE_URL: upstream.url,
  LLM_KEY: "sk-redis",
  LLM_MAX_RETRIES: "0",
  REDIS_URL: redis.url,
  RUN_ORPHAN_GRACE_MS: "3000",
});

beforeAll(async () => {
  redis = await startRedis();
  upstream = await startMockUpstream();
  [a, b] = await Promise.all([startChorus(env()), startChorus(env())]);
});
afterAll(async () => {
  await Promise.all([a.close(), b.close()]);
  await upstream.close();
  await redis.stop();
});
afterEach(() => {
  upstream.setPlanner(() => ({}));
  upstream.calls.length = 0;
});

const slow = () => upstream.setPlanner(() => ({ tokens: Array.from({ length: 15 }, (_, i) => `t${i} `), tokenDelayMs: 30 }));

describe("two instances on one Redis", () => {
  it("resumes on instance B a run started on instance A", async () => {
    slow();
    const mid = id();
    const first = await readSse(`${a.url}/api/process`, { message: "resume me", message_id: mid }, { until: (evs) => evs.some((e) => e.event === "agent_done") });
    const seen = first.events[first.events.length - 1]!.id!;
    const rest = await readSse(`${b.url}/api/process/${mid}/events`, undefined, { headers: { "last-event-id": String(seen) } });
    expect(rest.status).toBe(200);
    expect(rest.events[0]!.id).toBe(seen + 1);
    expect(rest.events.map((e) => e.id)).toEqual(rest.events.map((_, i) => seen + 1 + i));
    expect(last(rest)).toMatchObject({ event: "done", data: { status: "ok" } });
    // And the whole log replays from B after the end, identical to A's.
    const fromA = await readSse(`${a.url}/api/process/${mid}/events`);
    const fromB = await readSse(`${b.url}/api/process/${mid}/events`);
    expect(fromB.events.map((e) => [e.id, e.event, e.data])).toEqual(fromA.events.map((e) => [e.id, e.event, e.data]));
  });

  it("streams a run held by instance A to a client of instance B as its tokens come, not a poll later", async () => {
    upstream.setPlanner(() => ({ tokens: Array.from({ length: 20 }, (_, i) => `t${i} `), tokenDelayMs: 40 }));
    const mid = id();
    const onA = readSse(`${a.url}/api/process`, { message: "follow me from B", message_id: mid });
    await expect.poll(() => upstream.calls.length, { interval: 10 }).toBeGreaterThan(0);
    const onB = await readSse(`${b.url}/api/process/${mid}/events`);
    expect(last(onB)).toMatchObject({ event: "done" });
    expect((await onA).events.map((e) => e.id)).toEqual(onB.events.map((e) => e.id));
    // 20 summary tokens 40 ms apart: B hands them on as A logs them (A publishes to the runs
    // channel while someone follows), where the 1 s safety poll alone would bring them in bursts.
    const deltas = ofType(onB, "summary_delta").map((e) => e.at);
    expect(deltas).toHaveLength(20);
    const gaps = deltas.slice(1).map((t, i) => t - deltas[i]!);
    expect(Math.max(...gaps)).toBeLessThan(400);
  });

  it("runs concurrent duplicate POSTs on two instances once: one set of upstream calls", async () => {
    slow();
    const body = { message: "only once", message_id: id() };
    const [ra, rb] = await Promise.all([readSse(`${a.url}/api/process`, body), readSse(`${b.url}/api/process`, body)]);
    expect(ra.events.map((e) => e.data)).toEqual(rb.events.map((e) => e.data));
    expect(last(ra).event).toBe("done");
    expect(upstream.calls).toHaveLength(4); // 3 agents + summarizer, not 8
    // The same id with another message while in flight is a conflict on either instance.
    slow();
    const mid = id();
    const running = readSse(`${a.url}/api/process`, { message: "first", message_id: mid });
    await new Promise((r) => setTimeout(r, 150));
    const conflict = await b.post({ message: "second", message_id: mid });
    expect(conflict.status).toBe(409);
    expect((await conflict.json()).error.code).toBe("message_id_conflict");
    await running;
  });

  it("cancels from instance B a run held by instance A", async () => {
    slow();
    const mid = id();
    const reading = readSse(`${a.url}/api/process`, { message: "cancel me", message_id: mid });
    await new Promise((r) => setTimeout(r, 150));
    const del = await fetch(`${b.url}/api/process/${mid}`, { method: "DELETE" });
    expect(del.status).toBe(202);
    expect(last(await reading)).toMatchObject({ event: "error", data: { code: "cancelled" } });
    expect((await fetch(`${b.url}/api/process/${mid}`, { method: "DELETE" })).status).toBe(409);
    expect((await fetch(`${b.url}/api/process/never-${mid}`, { method: "DELETE" })).status).toBe(404);
  });

  it("counts the commands it sends to Redis in /metrics, so the commands per run can be read off", async () => {
    const probe = new Redis(redis.url);
    const served = async () => [...(await probe.info("commandstats")).matchAll(/calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    try {
      const sent = (m: Awaited<ReturnType<typeof scrape>>) => m.get("chorus_redis_commands_total", { connection: "commands" });
      const before = await scrape(a.url);
      const served0 = await served();
      const r = await readSse(`${a.url}/api/process`, { message: "count my commands", message_id: id() });
      expect(last(r)?.event).toBe("done");
      const after = await scrape(a.url);
      const servedDelta = (await served()) - served0;
      // The run's events went to Redis; what the metric counts, Redis served (it also served this probe).
      expect(sent(after) - sent(before)).toBeGreaterThan(0);
      expect(sent(after) - sent(before)).toBeLessThanOrEqual(servedDelta);
      expect(after.get("chorus_redis_commands_total", { connection: "subscriber" })).toBeGreaterThan(0);
    } finally {
      probe.disconnect();
    }
  });

  it("shares one rate-limit budget across instances", async () => {
    const own = await startRedis(); // a clean budget store
    const limited = { ...env(), REDIS_URL: own.url, RATE_LIMIT_POINTS: "2", RATE_LIMIT_WINDOW_S: "60" };
    const [x, y] = await Promise.all([startChorus(limited), startChorus(limited)]);
    try {
      expect((await x.post("{bad")).status).toBe(400);
      expect((await y.post("{bad")).status).toBe(400);
      const third = await x.post("{bad");
      expect(third.status).toBe(429);
      expect(Number(third.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    } finally {
      await Promise.all([x.close(), y.close()]);
      await own.stop();
    }
  });
});

describe("Redis dies mid-run", () => {
  it("keeps in-flight streams flowing, reports it in /ready, answers 503 fast for what needs Redis", async () => {
    const own = await startRedis();
    const c = await startChorus({ ...env(), REDIS_URL: own.url });
    try {
      upstream.setPlanner((body) => (callerOf(body) === "moderator" ? { tokens: Array.from({ length: 10 }, (_, i) => `s${i} `), tokenDelayMs: 40 } : {}));
      const reading = readSse(`${c.url}/api/process`, { message: "survive", message_id: id() }, {});
      await new Promise((r) => setTimeout(r, 100));
      await own.kill();
      const r = await reading;
      expect(last(r)).toMatchObject({ event: "done" });
      expect(ofType(r, "summary_delta")).toHaveLength(10);

      const ready = await fetch(`${c.url}/ready`);
      expect(ready.status).toBe(503);
      expect((await ready.json()).checks.redis).toMatch(/^unreachable/);

      const t0 = performance.now();
      const refused = await c.post({ message: "needs redis", message_id: id() });
      expect(refused.status).toBe(503);
      expect((await refused.json()).error.code).toBe("store_unavailable");
      expect(performance.now() - t0).toBeLessThan(3000);
      expect((await fetch(`${c.url}/health`)).status).toBe(200);
    } finally {
      await c.close();
    }
  });
});
