// The Redis run store on a real redis-server: claims, and one taker for a run whose lease
// lapsed. Several stores stand for several replicas (each its own connections). Fencing is
// tested end to end in takeover.test.ts (a replica paused past its lease, then woken).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRedis } from "../src/store/redis-client.js";
import { RedisRuns } from "../src/store/redis-runs.js";
import type { StoredRequest } from "../src/store/runs.js";
import { startRedis, type TestRedis } from "./support/redis-server.js";

let redis: TestRedis;
const stores: RedisRuns[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function replicaStore(leaseMs: number): Promise<RedisRuns> {
  const c = connectRedis(redis.url, () => {});
  await c.ready(5000);
  const store = new RedisRuns(c.redis, c.sub, { retentionS: 60, leaseMs, onError: () => {} });
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
});
