// Replicas that die mid-run: three Chorus processes on one Redis (and on a three-master Redis
// Cluster), runs at concurrency 30, one replica SIGKILLed every ten seconds and started again.
// Every client follows its run to the end, reconnecting to any replica with Last-Event-ID
// whenever its connection drops; the mock upstream counts every agent call.
// KILL_TEST_DURATION_S (default 20) sets how long runs are started; KILL_TEST_CONCURRENCY (30).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chorusProcess, type ChorusProcess } from "./support/chorus-process.js";
import { callerOf, startMockUpstream, type ChatBody, type MockUpstream } from "./support/mock-upstream.js";
import { startRedis, startRedisCluster } from "./support/redis-server.js";
import { parseSse, readSse, type SseEvent } from "./support/sse-client.js";

const DURATION_MS = Number(process.env.KILL_TEST_DURATION_S ?? 20) * 1000;
const CONCURRENCY = Number(process.env.KILL_TEST_CONCURRENCY ?? 30);
const KILL_EVERY_MS = 10_000;
/** A run that has not ended this long after it started is counted lost. */
const RUN_BOUND_MS = 90_000;
const LEASE_MS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The run a call belongs to: named in the last user message (earlier ones are the conversation's history). */
const runOf = (body: ChatBody) => /kill-test ([\w-]+)/.exec(body.messages.filter((m) => m.role === "user").at(-1)?.content ?? "")?.[1] ?? "?";

interface Followed {
  id: string;
  events: SseEvent[];
  reconnects: number;
  lost?: string;
}

/** Reads one SSE response into `events` until it ends or breaks; true when a terminal event came. */
async function readInto(res: Response, out: SseEvent[]): Promise<boolean> {
  if (!res.body) return false;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      const parsed = parseSse(buf);
      buf = parsed.rest;
      out.push(...parsed.events);
    }
  } catch {
    // The replica died under us: follow again elsewhere.
  }
  const end = out[out.length - 1]?.event;
  return end === "done" || end === "error";
}

/** A client that starts a run and follows it to its end, on whichever replica answers. */
async function followRun(replicas: ChorusProcess[], id: string, onDisconnect: "cancel" | "continue", conversation: string): Promise<Followed> {
  const body = JSON.stringify({ message: `kill-test ${id}: explain leases`, message_id: id, on_disconnect: onDisconnect, conversation_id: conversation });
  const f: Followed = { id, events: [], reconnects: 0 };
  const t0 = Date.now();
  const pick = () => replicas[Math.floor(Math.random() * replicas.length)]!;
  let post = true;
  while (Date.now() - t0 < RUN_BOUND_MS) {
    const at = pick();
    const lastId = f.events[f.events.length - 1]?.id ?? 0;
    try {
      const res = post
        ? await fetch(`${at.url}/api/process`, { method: "POST", headers: { "content-type": "application/json" }, body })
        : await fetch(`${at.url}/api/process/${id}/events`, { headers: { "last-event-id": String(lastId) } });
      if (res.status === 404 && lastId === 0) post = true; // never claimed: start it again
      else if (res.status === 200) {
        post = false;
        if (await readInto(res, f.events)) return f;
      } else await res.body?.cancel();
    } catch {
      // Connection refused or reset: that replica is down.
      if (!post || lastId > 0) post = false;
    }
    f.reconnects++;
    await sleep(150);
  }
  f.lost = `no terminal event within ${RUN_BOUND_MS} ms`;
  return f;
}

interface Figures {
  runs: number;
  kills: number;
  takeovers: number;
  reconnects: number;
  /** Agent calls made again although their end was logged (must be 0). */
  repeatedLoggedCalls: number;
  /**
   * Agent answers that had fully left the upstream but whose end was not logged when another
   * replica took the run over, so asked again: received by a replica killed before it stored
   * them, or by a live replica starved of CPU past its lease (fenced, counted below).
   */
  answersAskedAgain: number;
  /** For those, the longest time between the answer's last byte leaving the upstream and the nearest kill. */
  answerToKillMaxMs: number;
  /** Runs a live replica lost because its lease lapsed (starved of CPU): it logs each, fenced. */
  runsLostByLiveReplicas: number;
}

async function killTest(redisUrl: string, cluster: boolean, upstream: MockUpstream): Promise<{ figures: Figures; runs: Followed[]; turns: Map<string, { expected: string[]; got: string[] }> }> {
  const env = {
    USE_LLM_MOCK: "false",
    LLM_BASE_URL: upstream.url,
    LLM_KEY: "sk-kill",
    LLM_MAX_RETRIES: "0",
    REDIS_URL: redisUrl,
    REDIS_CLUSTER: String(cluster),
    RUN_LEASE_MS: String(LEASE_MS),
    MAX_CONCURRENT_LLM_CALLS: "200",
  };
  const replicas = await Promise.all([0, 1, 2].map(() => chorusProcess(env)));
  let kills = 0;
  const killedAt: number[] = [];
  const runs: Followed[] = [];
  // One conversation per client: its runs, in order, must each have appended their turn once.
  const turns = new Map<string, { expected: string[]; got: string[] }>();
  try {
    const t0 = Date.now();
    let seq = 0;
    const killer = (async () => {
      for (let at = KILL_EVERY_MS / 2; at < DURATION_MS; at += KILL_EVERY_MS) {
        await sleep(t0 + at - Date.now());
        const victim = replicas[kills % replicas.length]!;
        killedAt.push(performance.now());
        await victim.kill();
        kills++;
        await victim.start();
      }
    })();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, w) => {
        const conversation = `kc-${cluster ? "c" : "s"}-${w}-${t0}`;
        const mine = { expected: [] as string[], got: [] as string[] };
        turns.set(conversation, mine);
        while (Date.now() - t0 < DURATION_MS) {
          const id = `kt-${cluster ? "c" : "s"}-${w}-${++seq}-${t0}`;
          const r = await followRun(replicas, id, seq % 2 ? "continue" : "cancel", conversation);
          runs.push(r);
          if (r.events.at(-1)?.event === "done") mine.expected.push(id);
        }
      }),
    );
    await killer;
    for (const [conversation, t] of turns) {
      const res = await fetch(`${replicas[0]!.url}/api/conversations/${conversation}`);
      t.got = res.ok ? ((await res.json()) as { turns: { message_id: string }[] }).turns.map((x) => x.message_id) : [];
    }
  } finally {
    await Promise.all(replicas.map((r) => r.kill()));
  }
  const runsLostByLiveReplicas = replicas.reduce((n, r) => n + (r.output().match(/run taken over by another replica while this one still ran it/g)?.length ?? 0), 0);

  // Counted at the mock upstream: per run and agent, the calls made, and those that completed.
  const calls = new Map<string, { made: number; completed: number; firstEnd?: number }>();
  for (const c of upstream.calls) {
    const who = callerOf(c.body);
    if (who === "moderator") continue;
    const k = `${runOf(c.body)}/${who}`;
    const n = calls.get(k) ?? { made: 0, completed: 0 };
    n.made++;
    if (c.closedAt !== undefined && !c.aborted && n.completed++ === 0) n.firstEnd = c.finishedAt ?? c.closedAt;
    calls.set(k, n);
  }
  let repeatedLoggedCalls = 0;
  let answersAskedAgain = 0;
  let answerToKillMaxMs = 0;
  let takeovers = 0;
  for (const r of runs) {
    const reruns = new Map<string, number>();
    for (const e of r.events.filter((e) => e.event === "takeover")) {
      takeovers++;
      for (const a of e.data.rerun as string[]) reruns.set(a, (reruns.get(a) ?? 0) + 1);
    }
    for (const agent of ["analyst", "critic", "explainer"]) {
      const n = calls.get(`${r.id}/${agent}`) ?? { made: 0, completed: 0 };
      // Beyond the first, a call is allowed only where a takeover found no logged end for it.
      repeatedLoggedCalls += Math.max(0, n.made - 1 - (reruns.get(agent) ?? 0));
      if (n.completed > 1) {
        // Written to a replica just killed (or killed just after): the bytes left, nobody stored them.
        const nearest = Math.min(...killedAt.map((k) => Math.abs(k - n.firstEnd!)));
        answersAskedAgain += n.completed - 1;
        answerToKillMaxMs = Math.max(answerToKillMaxMs, Math.round(nearest));
      }
    }
  }
  const figures = { runs: runs.length, kills, takeovers, reconnects: runs.reduce((s, r) => s + r.reconnects, 0), repeatedLoggedCalls, answersAskedAgain, answerToKillMaxMs, runsLostByLiveReplicas };
  return { figures, runs, turns };
}

function expectOneCleanStreamEach(runs: Followed[]) {
  for (const r of runs) {
    expect(r.lost, `${r.id}: ${r.lost}`).toBeUndefined();
    const ids = r.events.map((e) => e.id!);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!), `${r.id}: ids ${ids.join(",")}`).toBe(true);
    const terminals = r.events.filter((e) => e.event === "done" || e.event === "error");
    expect(terminals, r.id).toHaveLength(1);
    expect(r.events[r.events.length - 1], r.id).toBe(terminals[0]);
    // Nothing fails at the upstream here: every run ends with its summary.
    expect(terminals[0]!.event, `${r.id}: ${JSON.stringify(terminals[0]!.data)}`).toBe("done");
    // Every agent ended once in the stream the client saw, whatever replica wrote it.
    const ended = r.events.filter((e) => e.event === "agent_done" || e.event === "agent_error").map((e) => e.data.agent);
    expect(new Set(ended).size, r.id).toBe(ended.length);
  }
}

const slowUpstream = (upstream: MockUpstream) =>
  upstream.setPlanner((b) =>
    callerOf(b) === "moderator"
      ? { tokens: Array.from({ length: 10 }, (_, i) => `s${i} `), tokenDelayMs: 40 }
      : { tokens: Array.from({ length: 12 }, (_, i) => `a${i} `), tokenDelayMs: 70 },
  );

const timeout = DURATION_MS + RUN_BOUND_MS + 60_000;

describe("a replica paused past its lease, then woken (fencing)", () => {
  it("has its late writes refused: the client sees the new owner's run only, once", { timeout: 60_000 }, async () => {
    const redis = await startRedis();
    const upstream = await startMockUpstream((b) =>
      callerOf(b) === "moderator" ? {} : { tokens: Array.from({ length: 20 }, (_, i) => `a${i} `), tokenDelayMs: 100 },
    );
    const env = { USE_LLM_MOCK: "false", LLM_BASE_URL: upstream.url, LLM_KEY: "sk-f", LLM_MAX_RETRIES: "0", REDIS_URL: redis.url, RUN_LEASE_MS: "1000" };
    const [a, b] = await Promise.all([chorusProcess(env), chorusProcess(env)]);
    try {
      const id = `fence-${Date.now()}`;
      const events: SseEvent[] = [];
      const ac = new AbortController();
      const res = await fetch(`${a.url}/api/process`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: `kill-test ${id}`, message_id: id, on_disconnect: "continue", stream_agents: true }),
        signal: ac.signal,
      });
      const reading = readInto(res, events);
      await expect.poll(() => events.filter((e) => e.event === "agent_delta").length, { timeout: 10_000 }).toBeGreaterThan(3);
      a.pause(); // A's upstream calls go on; it neither reads them nor renews its lease
      ac.abort();
      await reading;
      const seen = events[events.length - 1]!.id!;
      const rest = fetch(`${b.url}/api/process/${id}/events`, { headers: { "last-event-id": String(seen) } });
      // B takes the run over once A's lease lapsed; A wakes while B's agents are still answering.
      await sleep(2500);
      a.resume();
      expect(await readInto(await rest, events)).toBe(true);
      await sleep(1500); // whatever A still tries to write has been tried by now

      const ids = events.map((e) => e.id!);
      expect(ids.every((x, i) => i === 0 || x > ids[i - 1]!)).toBe(true);
      expect(events.filter((e) => e.event === "takeover")).toHaveLength(1);
      expect(events.filter((e) => e.event === "done" || e.event === "error").map((e) => e.event)).toEqual(["done"]);
      // The log as kept, read on A (awake again) and on B: the same, with one start, one takeover, one end.
      // A learns it lost the run on its first write or lease renewal after waking; until then a
      // stream from A may end early (a client then follows again), never with A's own ending.
      let fromA = await readSse(`${a.url}/api/process/${id}/events`);
      for (let i = 0; i < 20 && fromA.events[fromA.events.length - 1]?.event !== "done"; i++) {
        await sleep(250);
        fromA = await readSse(`${a.url}/api/process/${id}/events`);
      }
      const fromB = await readSse(`${b.url}/api/process/${id}/events`);
      expect(fromA.events.map((e) => [e.id, e.event])).toEqual(fromB.events.map((e) => [e.id, e.event]));
      expect(fromB.events.map((e) => e.event).filter((n) => ["start", "takeover", "done", "error"].includes(n))).toEqual(["start", "takeover", "done"]);
      // The agents were called twice each (A's calls were unfinished), never a third time.
      for (const agent of ["analyst", "critic", "explainer"]) expect(upstream.calls.filter((c) => callerOf(c.body) === agent)).toHaveLength(2);
    } finally {
      a.resume();
      await Promise.all([a.kill(), b.kill()]);
      await upstream.close();
      await redis.stop();
    }
  });
});

describe('an on_disconnect "continue" run whose replica dies with no client', () => {
  it("is finished by another replica's sweep, and its conversation turn recorded, with nobody following it", { timeout: 60_000 }, async () => {
    const redis = await startRedis();
    const upstream = await startMockUpstream((b) => (callerOf(b) === "moderator" ? {} : { tokens: Array.from({ length: 10 }, (_, i) => `a${i} `), tokenDelayMs: 100 }));
    const env = { USE_LLM_MOCK: "false", LLM_BASE_URL: upstream.url, LLM_KEY: "sk-s", LLM_MAX_RETRIES: "0", REDIS_URL: redis.url, RUN_LEASE_MS: "1000" };
    const [a, b] = await Promise.all([chorusProcess(env), chorusProcess(env)]);
    try {
      const id = `sweep-${Date.now()}`;
      const conversation = `conv-${id}`;
      const seen = await readSse(
        `${a.url}/api/process`,
        { message: `kill-test ${id}`, message_id: id, on_disconnect: "continue", conversation_id: conversation },
        { until: (evs) => evs.some((e) => e.event === "agent_start") },
      );
      expect(seen.events[0]!.event).toBe("start");
      await a.kill(); // the client is gone too: nobody follows the run
      // Only the finished run appends its turn: poll the conversation, never the run itself.
      let turns: { message_id: string; status: string }[] = [];
      for (let i = 0; i < 80 && turns.length === 0; i++) {
        await sleep(250);
        const res = await fetch(`${b.url}/api/conversations/${conversation}`);
        if (res.ok) turns = ((await res.json()) as { turns: typeof turns }).turns;
      }
      expect(turns.map((t) => t.message_id)).toEqual([id]);
      const log = await readSse(`${b.url}/api/process/${id}/events`);
      const names = log.events.map((e) => e.event);
      expect(names.filter((n) => n === "takeover")).toHaveLength(1);
      expect(names.at(-1)).toBe("done");
    } finally {
      await Promise.all([a.kill(), b.kill()]);
      await upstream.close();
      await redis.stop();
    }
  });
});

describe("a replica SIGKILLed every ten seconds", () => {
  let upstream: MockUpstream;
  beforeAll(async () => {
    upstream = await startMockUpstream();
  });
  afterAll(() => upstream.close());

  const stores = [
    { title: "on one Redis: every run ends once, in one stream with increasing ids; no logged agent call is made twice", label: "one Redis", cluster: false, start: startRedis },
    { title: "on a three-master Redis Cluster: the same", label: "Redis Cluster", cluster: true, start: startRedisCluster },
  ];
  for (const store of stores) {
    it(store.title, { timeout }, async () => {
      const redis = await store.start();
      try {
        upstream.calls.length = 0;
        slowUpstream(upstream);
        const { figures, runs, turns } = await killTest(redis.url, store.cluster, upstream);
        console.log(`kill test, ${store.label}: ${JSON.stringify(figures)}`);
        expect(figures.kills).toBeGreaterThanOrEqual(Math.floor(DURATION_MS / KILL_EVERY_MS));
        expect(figures.takeovers).toBeGreaterThan(0);
        expect(figures.repeatedLoggedCalls).toBe(0);
        expectOneCleanStreamEach(runs);
        // Each finished run's turn is in its conversation once, in the order the runs started.
        for (const [conversation, t] of turns) expect(t.got, conversation).toEqual(t.expected);
      } finally {
        await redis.stop();
      }
    });
  }
});
