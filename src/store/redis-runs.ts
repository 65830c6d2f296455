// Runs shared by every replica through Redis (REDIS_URL), a single node or a Cluster. Every key
// of one run shares the hash tag {run:<id>}, so each Lua script (redis-run-scripts.ts) touches one slot:
//   lease   owner token "<replica>:<epoch>", expiring after RUN_LEASE_MS unless renewed
//   epoch   the fencing token: raised by every claim and takeover
//   meta    fingerprint and request, while the run is in flight (a takeover needs them)
//   events  a Redis Stream, entry ids 0-<event id>, event name and JSON data
//   followers  clients following from replicas that do not hold the run (expiring members)
// Appends check the epoch in the same script that writes, so a paused-not-dead owner's writes
// are refused once another replica took over. Signals (new events, cancel, orphan) go by pub/sub.
import { randomUUID } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import type { EventLog } from "../run/event-log.js";
import { runEvent, TERMINAL_EVENTS as TERMINAL, type EventName, type RunEvent } from "../run/events.js";
import { ACTIVE, CHANNEL, key, keys, SCRIPTS, type Script } from "./redis-run-scripts.js";
import type { Claim, RunStore, StoredRequest, TakenRun } from "./runs.js";

interface Held {
  log: EventLog;
  epoch: string;
  lost: () => void;
  pending: RunEvent[];
  folded: number[];
}

export interface RedisRunsOptions {
  retentionS: number;
  leaseMs: number;
  /** REDIS_FLUSH_MS: at most one write per run in this window (0: one per turn of the event loop). */
  flushMs: number;
  onError: (what: string, err: unknown) => void;
  /** Another replica owns a run this one was still running (its lease had lapsed): told once per run. */
  onLost?: (id: string) => void;
}

export class RedisRuns implements RunStore {
  readonly instanceId = randomUUID();
  private held = new Map<string, Held>();
  private epochs = new Map<string, string>();
  private flushing: { soon: NodeJS.Immediate } | { later: NodeJS.Timeout } | undefined;
  private flushedAt = -Infinity;
  private waiters = new Map<string, Set<() => void>>();
  private handlers: { cancel?: (id: string) => void; orphan?: (id: string) => void } = {};
  private following = new Map<string, string>(); // member → run id, refreshed while followed
  private followSeq = 0;
  private timers: NodeJS.Timeout[];

  constructor(
    private redis: Redis | Cluster,
    private sub: Redis | Cluster,
    private opts: RedisRunsOptions,
  ) {
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(`chorus_${name}`, { numberOfKeys: 5, lua });
    void this.sub.subscribe(CHANNEL).catch((e) => opts.onError("subscribe", e));
    this.sub.on("message", (_ch: string, raw: string) => {
      const [type, id] = [raw.slice(0, raw.indexOf(":")), raw.slice(raw.indexOf(":") + 1)];
      if (type === "events") this.wake(id);
      else if (type === "cancel" || type === "orphan") this.handlers[type]?.(id);
    });
    this.timers = [
      setInterval(() => void this.renewAll(), Math.max(50, opts.leaseMs / 3)).unref(),
      setInterval(() => void this.refreshFollowers(), Math.max(50, this.followerTtl / 3)).unref(),
    ];
  }

  private get followerTtl() {
    return Math.max(3000, this.opts.leaseMs * 3);
  }

  private script(name: Script, id: string, ...args: (string | number)[]): Promise<unknown> {
    const fn = (this.redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[`chorus_${name}`]!;
    return fn.call(this.redis, ...keys(id), ...args);
  }

  on(type: "cancel" | "orphan", handler: (id: string) => void): void {
    this.handlers[type] = handler;
  }

  async claim(id: string, fingerprint: string, request: StoredRequest): Promise<Claim> {
    const [ok, value] = (await this.script("claim", id, this.instanceId, this.opts.leaseMs, fingerprint, JSON.stringify(request))) as [number, string | number];
    if (!ok) return { claimed: false, fingerprint: String(value) };
    this.epochs.set(id, String(value));
    await this.markActive(id);
    return { claimed: true };
  }

  private markActive(id: string) {
    return this.redis.zadd(ACTIVE, Date.now() + this.opts.leaseMs, id).catch((e) => this.opts.onError("mark run active", e));
  }

  hold(id: string, log: EventLog, lost: () => void): void {
    const epoch = this.epochs.get(id);
    this.epochs.delete(id);
    if (!epoch) return; // not claimed through this store: nothing to mirror
    const held: Held = { log, epoch, lost, pending: [], folded: [] };
    this.held.set(id, held);
    log.sink = {
      append: (events, folded) => {
        held.pending.push(...events);
        held.folded.push(...folded);
        this.schedule(TERMINAL.has(events[events.length - 1]!.event));
      },
    };
  }

  /**
   * A leading-edge throttle on the writes: events go at once when nothing was written for
   * REDIS_FLUSH_MS, else with the next write, at most that much later (a run's end goes at
   * once). Clients see an event only once it is written, so this is the most a token waits;
   * in exchange a run streaming a token every 5 ms costs a few writes, not one per token.
   */
  private schedule(urgent: boolean): void {
    if (this.flushing && ("soon" in this.flushing || !urgent)) return;
    if (this.flushing) clearTimeout(this.flushing.later);
    const wait = this.flushedAt + this.opts.flushMs - performance.now();
    this.flushing = urgent || wait <= 0 ? { soon: setImmediate(() => this.flush()) } : { later: setTimeout(() => this.flush(), wait) };
  }

  /** Writes every held run's new events, one fenced script call each. */
  private flush(): void {
    this.flushing = undefined;
    this.flushedAt = performance.now();
    for (const [id, h] of this.held) {
      if (!h.pending.length) continue;
      const events = h.pending.splice(0);
      const folded = h.folded.splice(0);
      const lastId = events[events.length - 1]!.id;
      const terminal = TERMINAL.has(events[events.length - 1]!.event);
      const triples = events.flatMap((e) => [e.id, e.event, JSON.stringify(e.data)]);
      if (terminal) this.held.delete(id);
      const args = [h.epoch, Math.max(1, this.opts.retentionS), terminal ? 1 : 0, CHANNEL, `events:${id}`, folded.length, ...folded, ...triples];
      this.script("append", id, ...args).then(
        (ok) => {
          if (ok === 1) return h.log.confirm(lastId);
          this.held.delete(id);
          this.opts.onLost?.(id);
          h.log.lose();
          h.lost();
        },
        (err) => {
          // Redis is away: the run goes on here, its clients still served (it cannot be taken over meanwhile).
          this.opts.onError("write events", err);
          h.log.confirm(lastId);
        },
      );
      if (terminal) void this.redis.zrem(ACTIVE, id).catch(() => {});
    }
  }

  private async renewAll(): Promise<void> {
    await Promise.all(
      [...this.held].map(async ([id, h]) => {
        try {
          const r = await this.script("renew", id, `${this.instanceId}:${h.epoch}`, h.epoch, this.opts.leaseMs);
          if (r === 1) await this.markActive(id);
          else if (r === 0 && this.held.get(id) === h) {
            this.held.delete(id);
            this.opts.onLost?.(id);
            h.log.lose();
            h.lost();
          }
        } catch (err) {
          this.opts.onError("renew lease", err);
        }
      }),
    );
  }

  async info(id: string): Promise<{ inFlight: boolean } | undefined> {
    const [meta, events] = await Promise.all([this.redis.exists(key(id, "meta")), this.redis.exists(key(id, "events"))]);
    if (meta) return { inFlight: true };
    return events ? { inFlight: false } : undefined;
  }

  async takeOver(id: string): Promise<TakenRun | undefined> {
    const won = (await this.script("takeOver", id, this.instanceId, this.opts.leaseMs)) as [number, string] | null;
    if (!won) return undefined;
    this.epochs.set(id, String(won[0]));
    await this.markActive(id);
    const entries = (await this.redis.xrange(key(id, "events"), "-", "+")) as [string, string[]][];
    return { request: JSON.parse(won[1]) as StoredRequest, events: entries.map(toEvent) };
  }

  async orphaned(): Promise<string[]> {
    const ids = await this.redis.zrangebyscore(ACTIVE, "-inf", Date.now(), "LIMIT", 0, 50);
    const gone = await Promise.all(ids.map(async (id) => ((await this.redis.exists(key(id, "meta"))) ? undefined : id)));
    const finished = gone.filter((g): g is string => g !== undefined);
    if (finished.length) await this.redis.zrem(ACTIVE, ...finished);
    return ids.filter((id) => !finished.includes(id));
  }

  async cancel(id: string): Promise<void> {
    await this.redis.publish(CHANNEL, `cancel:${id}`);
  }

  addFollower(id: string): () => void {
    const member = `${this.instanceId}:${++this.followSeq}`;
    this.following.set(member, id);
    const fkey = key(id, "followers");
    void this.redis.zadd(fkey, Date.now() + this.followerTtl, member).catch(() => {});
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.following.delete(member);
      void (async () => {
        await this.redis.zrem(fkey, member);
        if ((await this.remoteFollowers(id)) === 0) await this.redis.publish(CHANNEL, `orphan:${id}`);
      })().catch(() => {}); // Redis is away: the owner's own grace rules apply
    };
  }

  private async refreshFollowers(): Promise<void> {
    const until = Date.now() + this.followerTtl;
    await Promise.all([...this.following].map(([m, id]) => this.redis.zadd(key(id, "followers"), "XX", String(until), m).catch(() => {})));
  }

  async remoteFollowers(id: string): Promise<number> {
    try {
      return await this.redis.zcount(key(id, "followers"), Date.now(), "+inf");
    } catch {
      return 0;
    }
  }

  async *follow(id: string, afterId: number, signal: AbortSignal, ownerGone: () => Promise<void>): AsyncGenerator<RunEvent[]> {
    let last = afterId;
    let ended = false; // the run's meta is gone: one more read for a terminal event written meanwhile
    while (!signal.aborted) {
      const woken = this.waitForEvents(id, signal);
      const entries = (await this.redis.xrange(key(id, "events"), `(0-${last}`, "+", "COUNT", 1000)) as [string, string[]][];
      if (entries.length) {
        const batch = entries.map(toEvent);
        last = batch[batch.length - 1]!.id;
        woken.cancel();
        yield batch;
        if (TERMINAL.has(batch[batch.length - 1]!.event)) return;
        continue;
      }
      if (ended) return woken.cancel();
      const [meta, lease] = await Promise.all([this.redis.exists(key(id, "meta")), this.redis.exists(key(id, "lease"))]);
      if (!meta) {
        ended = true;
        woken.cancel();
        continue;
      }
      if (!lease) await ownerGone();
      await woken.promise;
    }
  }

  /** Resolves on the next "events" signal for `id`, the abort, or a 1 s safety poll. */
  private waitForEvents(id: string, signal: AbortSignal) {
    let done!: () => void;
    const promise = new Promise<void>((resolve) => (done = resolve));
    let set = this.waiters.get(id);
    if (!set) this.waiters.set(id, (set = new Set()));
    const timer = setTimeout(() => finish(), 1000);
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      set!.delete(finish);
      if (set!.size === 0) this.waiters.delete(id);
      done();
    };
    set.add(finish);
    signal.addEventListener("abort", finish, { once: true });
    return { promise, cancel: finish };
  }

  private wake(id: string): void {
    for (const f of [...(this.waiters.get(id) ?? [])]) f();
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    if (this.flushing && "soon" in this.flushing) clearImmediate(this.flushing.soon);
    else if (this.flushing) clearTimeout(this.flushing.later);
    this.redis.disconnect();
    this.sub.disconnect();
  }
}

/** A stream entry as an event; written by a Chorus replica (flush above), so trusted to match its schema. */
const toEvent = ([sid, f]: [string, string[]]) => runEvent(Number(sid.slice(2)), f[1] as EventName, JSON.parse(f[3]!));
