// deploy/nginx.conf in front of two Chorus processes sharing a real redis-server, as a user who
// scales out would run them: events stream through unbuffered, heartbeats keep an idle stream
// past the proxy's read timeout, exactly one X-Forwarded-For hop is trusted, and a client cut
// mid-run resumes through the proxy on either replica. nginx and redis-server are installed by
// `make test` (test/system-deps.sh) when missing.
import { request } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startChorusProcess, type ChorusProcess } from "./support/chorus-process.js";
import { startNginx, type TestNginx } from "./support/nginx.js";
import { startRedis, type TestRedis } from "./support/redis-server.js";
import { last, ofType, readSse, type SseEvent } from "./support/sse-client.js";

const REPLICA_ENV = {
  TRUST_PROXY: "1",
  RATE_LIMIT_POINTS: "5",
  RATE_LIMIT_WINDOW_S: "600",
  MOCK_TOKEN_DELAY_MS: "15",
  // A cut client's run lives on long enough to be resumed.
  RUN_ORPHAN_GRACE_MS: "30000",
};

describe("two replicas on Redis behind nginx", () => {
  let redis: TestRedis;
  const replicas: ChorusProcess[] = [];
  let nginx: TestNginx;
  beforeAll(async () => {
    redis = await startRedis();
    // Each kept as soon as it is up, so that afterAll stops it even if the other fails to start.
    await Promise.all([0, 1].map(async () => replicas.push(await startChorusProcess({ ...REPLICA_ENV, REDIS_URL: redis.url }))));
    nginx = await startNginx({ upstreams: replicas.map((r) => r.addr) });
  }, 60_000);
  afterAll(async () => {
    await nginx?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    await redis?.stop();
  });

  it("streams events as they come: the summary's first token arrives in an earlier read than done", async () => {
    const r = await readSse(`${nginx.url}/api/process`, { message: "Why is the sky blue?", message_id: "proxy-stream-1" });
    expect(r.status).toBe(200);
    expect(last(r).event).toBe("done");
    const firstDelta = ofType(r, "summary_delta")[0]!;
    // Events of one network read share their arrival time: a buffered response comes in one piece.
    expect(firstDelta.at).toBeLessThan(last(r).at);
    expect(new Set(r.events.map((e) => e.at)).size).toBeGreaterThan(5);
  });

  it("trusts exactly one X-Forwarded-For hop: the address nginx saw, never what the client wrote", async () => {
    // Linux routes all of 127.0.0.0/8 to loopback: two clients with their own addresses.
    let n = 0;
    const postFrom = (localAddress: string, xff: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          `${nginx.url}/api/process`,
          { method: "POST", localAddress, headers: { "content-type": "application/json", "x-forwarded-for": xff } },
          (res) => {
            resolve(res.statusCode!);
            res.destroy();
          },
        );
        req.on("error", reject);
        req.end(JSON.stringify({ message: "Who am I?", message_id: `proxy-xff-${++n}` }));
      });
    const statuses: number[] = [];
    // Five requests (the budget), each claiming to come from somewhere else: one caller all the same.
    for (let i = 0; i < 6; i++) statuses.push(await postFrom("127.0.0.2", `203.0.113.${i}`));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    // Another address behind the same proxy is another caller, whatever it claims.
    expect(await postFrom("127.0.0.3", "127.0.0.2")).toBe(200);
  });

  it("resumes a client cut mid-run with Last-Event-ID, through the proxy, on either replica", async () => {
    const cut = await readSse(`${nginx.url}/api/process`, { message: "Explain tides", message_id: "proxy-resume-1" }, {
      until: (events) => events.some((e) => e.event === "summary_delta"),
    });
    expect(last(cut).event).toBe("summary_delta");
    const lastId = last(cut).id!;
    const served = new Set<string>();
    for (let i = 0; i < 4 && served.size < 2; i++) {
      const res = await readSse(`${nginx.url}/api/process/proxy-resume-1/events`, undefined, { headers: { "last-event-id": String(lastId) } });
      expect(res.status).toBe(200);
      served.add(res.headers.get("x-test-upstream")!);
      // The rest of the run and nothing twice: ids go on from the cut, and the summary is whole.
      expect(res.events.map((e) => e.id)).toEqual(res.events.map((_, k) => lastId + 1 + k));
      expect(last(res).event).toBe("done");
      const text = (evs: SseEvent[]) => evs.filter((e) => e.event === "summary_delta").map((e) => e.data.delta).join("");
      expect(text(cut.events) + text(res.events)).toBe(last(res).data.summary);
    }
    expect([...served].sort()).toEqual(replicas.map((r) => r.addr).sort());
  });
});

describe("heartbeats behind nginx", () => {
  // A stream silent for 2.5 s (the mock's first token) behind a 1 s proxy_read_timeout.
  // Stopped in afterEach, which runs even when a test times out (a finally block would not).
  const running: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const p of running.splice(0).reverse()) await p.stop();
  });
  const stack = async (heartbeatMs: string) => {
    const chorus = await startChorusProcess({ MOCK_TOKEN_DELAY_MS: "2500", SSE_HEARTBEAT_MS: heartbeatMs });
    running.push(chorus);
    const nginx = await startNginx({ upstreams: [chorus.addr], readTimeout: "1s" });
    running.push(nginx);
    return { nginx };
  };
  const untilFirstToken = (events: SseEvent[]) => events.some((e) => e.event === "agent_delta");

  it("keep an idle stream open past proxy_read_timeout", async () => {
    const s = await stack("200");
    const r = await readSse(`${s.nginx.url}/api/process`, { message: "Slow question", message_id: "slow-1", stream_agents: true }, { until: untilFirstToken });
    expect(r.events[0]!.event).toBe("start");
    expect(untilFirstToken(r.events)).toBe(true);
    expect(r.comments.filter((c) => c === "ping").length).toBeGreaterThanOrEqual(3);
  });

  it("without them nginx cuts the same stream (the timeout above is real)", async () => {
    const s = await stack("60000");
    const events: SseEvent[] = [];
    // Cut by nginx: the body ends early (or breaks) before the first token.
    await readSse(`${s.nginx.url}/api/process`, { message: "Slow question", message_id: "slow-2", stream_agents: true }, {
      until: (evs) => (events.splice(0, events.length, ...evs), untilFirstToken(evs)),
    }).catch(() => undefined);
    expect(events[0]?.event).toBe("start");
    expect(untilFirstToken(events)).toBe(false);
  });
});
