// What the leases cost a run: time to the first event and to the last, sequential runs on the
// built-in mock LLM (no token delay), with runs in memory and with runs on a local Redis
// (claim script, fenced appends, events shown once written). `npx tsx bench/lease-latency.ts`.
import { startRedis } from "../test/support/redis-server.js";
import { startChorus } from "../test/support/start-chorus.js";

const RUNS = Number(process.env.RUNS ?? 300);

async function measure(env: Record<string, string>) {
  const chorus = await startChorus({ MOCK_TOKEN_DELAY_MS: "0", LOG_LEVEL: "warn", ...env });
  const first: number[] = [];
  const whole: number[] = [];
  for (let i = 0; i < RUNS + 20; i++) {
    const t0 = performance.now();
    const res = await chorus.post({ message: "latency", message_id: `lat-${i}-${Date.now()}` });
    const reader = res.body!.getReader();
    let t1 = 0;
    for (;;) {
      const { done } = await reader.read();
      if (!t1) t1 = performance.now();
      if (done) break;
    }
    if (i >= 20) {
      first.push(t1 - t0);
      whole.push(performance.now() - t0);
    }
  }
  await chorus.close();
  const q = (xs: number[], p: number) => xs.sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!.toFixed(2);
  return { first_event_p50_ms: q(first, 0.5), first_event_p95_ms: q(first, 0.95), run_p50_ms: q(whole, 0.5), run_p95_ms: q(whole, 0.95) };
}

const redis = await startRedis();
try {
  console.log("memory", JSON.stringify(await measure({})));
  console.log("redis ", JSON.stringify(await measure({ REDIS_URL: redis.url })));
} finally {
  await redis.stop();
}
