// Runs shared by every instance through Redis (REDIS_URL): who owns an in-flight message_id
// (claimed atomically), each run's events (a Redis Stream per run, entry ids 0-<event id>,
// trimmed and expiring), cancels and "last follower left" signals (pub/sub), followers on
// other instances. The owner keeps its own in-memory log too, so its streams keep flowing
// when Redis goes away; only what needs another instance needs Redis.
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { runEvent, TERMINAL_EVENTS as TERMINAL, type EventName, type RunEvent } from "../run/events.js";

const OWNER_TTL_MS = 30_000;
const MAX_EVENTS = 100_000;

const k = {
  owner: (id: string) => `chorus:run:${id}:owner`,
  events: (id: string) => `chorus:run:${id}:events`,
  followers: (id: string) => `chorus:run:${id}:followers`,
};
const CHANNEL = "chorus:runs";

type Signal = { type: "events" | "cancel" | "orphan"; id: string };

export interface RemoteRunInfo {
  inFlight: boolean;
  fingerprint?: string;
}

export class RedisRuns {
  readonly instanceId = randomUUID();
  private pending = new Map<string, RunEvent[]>();
  private flushing: NodeJS.Immediate | undefined;
  private waiters = new Map<string, Set<() => void>>();
  private handlers: { cancel?: (id: string) => void; orphan?: (id: string) => void } = {};
  private refreshers = new Map<string, NodeJS.Timeout>();

  constructor(
    private redis: Redis,
    private sub: Redis,
    private retentionS: number,
    private onError: (what: string, err: unknown) => void,
  ) {
    void this.sub.subscribe(CHANNEL).catch((e) => onError("subscribe", e));
    this.sub.on("message", (_ch: string, raw: string) => {
      let s: Signal;
      try {
        s = JSON.parse(raw) as Signal;
      } catch {
        return;
      }
      if (s.type === "events") this.wake(s.id);
      else this.handlers[s.type]?.(s.id);
    });
  }

  on(type: "cancel" | "orphan", handler: (id: string) => void): void {
    this.handlers[type] = handler;
  }

  /** Claims `id` for this instance unless a run with it is in flight anywhere. */
  async claim(id: string, fingerprint: string): Promise<{ claimed: true } | { claimed: false; fingerprint: string }> {
    const value = `${this.instanceId}|${fingerprint}`;
    const ok = await this.redis.set(k.owner(id), value, "PX", OWNER_TTL_MS, "NX");
    if (ok !== "OK") {
      const held = (await this.redis.get(k.owner(id))) ?? "|";
      return { claimed: false, fingerprint: held.slice(held.indexOf("|") + 1) };
    }
    // A previous, finished run of this id is replaced by the new one.
    await this.redis.del(k.events(id), k.followers(id));
    // Keep the claim alive while the run lasts; it lapses if this instance dies.
    this.refreshers.set(
      id,
      setInterval(() => void this.redis.pexpire(k.owner(id), OWNER_TTL_MS).catch(() => {}), OWNER_TTL_MS / 3).unref(),
    );
    return { claimed: true };
  }

  /** Mirrors an event to Redis, batched per tick; failures are reported, never thrown. */
  publish(id: string, ev: RunEvent): void {
    let list = this.pending.get(id);
    if (!list) this.pending.set(id, (list = []));
    list.push(ev);
    this.flushing ??= setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.flushing = undefined;
    const batches = [...this.pending];
    this.pending.clear();
    const multi = this.redis.multi();
    for (const [id, events] of batches) {
      for (const ev of events) {
        multi.xadd(k.events(id), "MAXLEN", "~", MAX_EVENTS, `0-${ev.id}`, "e", ev.event, "d", JSON.stringify(ev.data));
      }
      if (TERMINAL.has(events[events.length - 1]!.event)) {
        multi.expire(k.events(id), Math.max(1, this.retentionS));
        multi.del(k.owner(id), k.followers(id));
      }
      multi.publish(CHANNEL, JSON.stringify({ type: "events", id }));
    }
    try {
      await multi.exec();
    } catch (err) {
      this.onError("mirror events", err);
    }
    for (const [id, events] of batches) {
      if (TERMINAL.has(events[events.length - 1]!.event)) {
        clearInterval(this.refreshers.get(id));
        this.refreshers.delete(id);
      }
    }
  }

  /** What Redis knows of a run that this instance does not hold. */
  async info(id: string): Promise<RemoteRunInfo | undefined> {
    const [owner, len] = await Promise.all([this.redis.get(k.owner(id)), this.redis.exists(k.events(id))]);
    if (owner) return { inFlight: true, fingerprint: owner.slice(owner.indexOf("|") + 1) };
    return len ? { inFlight: false } : undefined;
  }

  /** Asks the owner (any instance) to cancel. */
  async cancel(id: string): Promise<void> {
    await this.redis.publish(CHANNEL, JSON.stringify({ type: "cancel", id }));
  }

  /** Followers on instances other than the owner. */
  async addFollower(id: string): Promise<void> {
    await this.redis.incr(k.followers(id)).catch(() => {});
  }

  async removeFollower(id: string): Promise<void> {
    try {
      const left = await this.redis.decr(k.followers(id));
      if (left <= 0) await this.redis.publish(CHANNEL, JSON.stringify({ type: "orphan", id }));
    } catch {
      // Redis is away: the owner's own grace rules apply.
    }
  }

  async remoteFollowers(id: string): Promise<number> {
    try {
      return Number((await this.redis.get(k.followers(id))) ?? 0);
    } catch {
      return 0;
    }
  }

  /** Events of a run after `afterId` as batches of frames, live until its terminal event. */
  async *follow(id: string, afterId: number, signal: AbortSignal): AsyncGenerator<RunEvent[]> {
    let last = afterId;
    while (!signal.aborted) {
      const woken = this.waitForEvents(id, signal);
      const entries = (await this.redis.xrange(k.events(id), `(0-${last}`, "+", "COUNT", 1000)) as [string, string[]][];
      if (entries.length) {
        // Written by a Chorus instance (publish above): trusted to match its event's schema.
        const batch = entries.map(([sid, f]) => runEvent(Number(sid.slice(2)), f[1] as EventName, JSON.parse(f[3]!)));
        last = batch[batch.length - 1]!.id;
        woken.cancel();
        yield batch;
        if (TERMINAL.has(batch[batch.length - 1]!.event)) return;
        continue;
      }
      // Nothing new: if the owner is gone without a terminal event, stop rather than hang.
      if (!(await this.redis.exists(k.owner(id)))) {
        woken.cancel();
        return;
      }
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
    for (const t of this.refreshers.values()) clearInterval(t);
    this.redis.disconnect();
    this.sub.disconnect();
  }
}
