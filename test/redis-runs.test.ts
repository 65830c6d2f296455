// The Redis run store on a real redis-server: claims, and one taker for a run whose lease
// lapsed. Several stores stand for several replicas (each its own connections). Fencing is
// tested end to end in takeover.test.ts (a replica paused past its lease, then woken).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventLog } from "../src/run/event-log.js";
import { connectRedis } from "../src/store/redis-client.js";
import { key } from "../src/store/redis-run-scripts.js";
import { RedisRuns } from "../src/store/redis-runs.js";
import type { StoredRequest } from "../src/store/runs.js";
import { startRedis, type TestRedis } from "./support/redis-server.js";

let redis: TestRedis;
const stores: RedisRuns[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function replicaStore(leaseMs: number, flushMs = 20): Promise<RedisRuns> {
  const c = connectRedis(redis.url, () => {});
  await c.ready(5000);
  const store = new RedisRuns(c.redis, c.sub, { retentionS: 60, leaseMs, flushMs, onError: () => {} });
  stores.push(store);
  return store;
}

const request = (id: string): StoredRequest => ({ messageId: id, message: "q", streamAgents: false, onDisconnect: "continue" });

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const s of stores) s.close();
  await redis.stop();
});

describe("runs in Redis", () => {
  it("lets exactly one of five replicas take over a run whose owner stopped renewing its lease", async () => {
    const owner = await replicaStore(2000);
    const others = await Promise.all([1, 2, 3, 4, 5].map(() => replicaStore(2000)));
    expect(await owner.claim("one-taker", "fp", request("one-taker"))).toEqual({ claimed: true });
    // In flight: a second claim is refused with the first one's fingerprint, and nobody can take it over yet.
    expect(await others[0]!.claim("one-taker", "other", request("one-taker"))).toEqual({ claimed: false, fingerprint: "fp" });
    expect((await Promise.all(others.map((s) => s.takeOver("one-taker")))).filter(Boolean)).toHaveLength(0);

    await sleep(2300); // the owner never held the run: its lease lapses
    expect(await others[0]!.orphaned()).toContain("one-taker");
    const taken = await Promise.all(others.map((s) => s.takeOver("one-taker")));
    const winners = taken.filter((t) => t !== undefined);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.request).toEqual(request("one-taker"));
  });

  /** Streams 50 tokens 2 ms apart into a held run; returns the script calls Redis saw and what it kept. */
  async function streamTokens(store: RedisRuns, id: string) {
    const admin = connectRedis(redis.url, () => {});
    await admin.ready(5000);
    const evalsha = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await admin.redis.info("commandstats"))?.[1] ?? 0);
    try {
      await store.claim(id, "fp", request(id));
      const log = new EventLog();
      store.hold(id, log, () => {});
      const before = await evalsha();
      log.append("start", { message_id: id, agents: ["a"] });
      for (let i = 0; i < 50; i++) {
        log.append("summary_delta", { delta: `t${i} ` });
        await sleep(2);
      }
      log.append("done", { message_id: id, status: "ok", agents: { ok: 1, failed: 0 }, summary: "all", latency_ms: 1 });
      expect(await log.settled()).toBe(true);
      const writes = (await evalsha()) - before;
      const kept = await admin.redis.xrange(key(id, "events"), "-", "+");
      return { writes, kept: kept.map(([, f]) => f[1]) };
    } finally {
      admin.redis.disconnect();
      admin.sub.disconnect();
    }
  }

  it("writes a fast token stream in a few batches (REDIS_FLUSH_MS), losing none, and one write per token without the window", async () => {
    const batched = await streamTokens(await replicaStore(5000, 20), "batched");
    expect(batched.kept).toEqual(["start", ...Array(50).fill("summary_delta"), "done"]);
    // ≈ 110 ms of tokens in 20 ms windows (the first at once, the end at once): about 7 writes.
    expect(batched.writes).toBeLessThanOrEqual(12);
    const each = await streamTokens(await replicaStore(5000, 0), "each");
    expect(each.kept).toEqual(batched.kept);
    expect(each.writes).toBeGreaterThan(40);
  });
});
