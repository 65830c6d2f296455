// A run's numbered event log. The orchestration appends; every SSE follower (first client,
// resumer, duplicate POST) reads from the id it has seen, then live until the end.
//
// Bounded: once an agent has finished, its agent_delta events are folded away (its agent_done
// carries the whole output), and a summary_restart folds the void summary's tokens. Ids never
// change and keep increasing: a follower that was live saw 1, 2, 3 …; one that resumes later
// may see gaps where folded tokens were.
//
// Durable: followers see an event only once the run store has confirmed it (at once in memory;
// with Redis once written there), so an id a client has seen survives the replica's death.
import { runEvent, type EventData, type EventName, type RunEvent } from "./events.js";

export type { RunEvent } from "./events.js";

/** Anything a client can follow: a local log, or a run held by another instance. */
export interface Followable {
  follow(afterId: number, signal: AbortSignal): AsyncGenerator<RunEvent[]>;
}

/** Where appended events go to be kept (the run store); it confirms them with `confirm`. */
export interface LogSink {
  append(events: RunEvent[], folded: number[]): void;
}

const deltaKey = (agent: string, round?: number) => `${agent}#${round ?? 1}`;

export class EventLog implements Followable {
  /** Events kept, ids increasing (folded ones removed). */
  readonly events: RunEvent[] = [];
  ended = false;
  /** Set when the store refused our writes (another replica owns the run now). */
  lost = false;
  sink: LogSink | undefined;
  private nextId: number;
  private confirmed: number;
  private deltas = new Map<string, number[]>();
  private summaryDeltas: number[] = [];
  private waiters: (() => void)[] = [];

  /** `prior`: the events already logged by a replica that held this run before (takeover). */
  constructor(prior: RunEvent[] = []) {
    for (const ev of prior) this.keep(ev);
    this.nextId = (prior[prior.length - 1]?.id ?? 0) + 1;
    this.confirmed = this.nextId - 1;
  }

  append<E extends EventName>(event: E, data: EventData<E>): RunEvent {
    if (this.ended) throw new Error(`event log already ended (appending ${event})`);
    const ev = runEvent(this.nextId++, event, data);
    const folded = this.keep(ev);
    if (this.sink) this.sink.append([ev], folded);
    else this.confirm(ev.id);
    return ev;
  }

  /** Tracks token events and folds the ones `ev` makes void; returns the folded ids. */
  private keep(ev: RunEvent): number[] {
    this.events.push(ev);
    let folded: number[] = [];
    if (ev.event === "agent_delta") {
      const k = deltaKey(ev.data.agent, ev.data.round);
      const ids = this.deltas.get(k);
      if (ids) ids.push(ev.id);
      else this.deltas.set(k, [ev.id]);
    } else if (ev.event === "agent_done" || ev.event === "agent_error") {
      const k = deltaKey(ev.data.agent, ev.data.round);
      folded = this.deltas.get(k) ?? [];
      this.deltas.delete(k);
    } else if (ev.event === "summary_delta") this.summaryDeltas.push(ev.id);
    else if (ev.event === "summary_restart") folded = this.summaryDeltas.splice(0);
    if (folded.length) {
      const gone = new Set(folded);
      const kept = this.events.filter((e) => !gone.has(e.id));
      this.events.length = 0;
      this.events.push(...kept);
    }
    return folded;
  }

  /** The store has kept every event up to `id`. */
  confirm(id: number): void {
    if (id > this.confirmed) this.confirmed = id;
    this.wake();
  }

  /** The store refused our writes: followers stop here and resume elsewhere. */
  lose(): void {
    this.lost = true;
    this.wake();
  }

  /** True once the store has kept every event appended so far; false when it refused them. */
  settled(): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.lost) resolve(false);
        else if (this.confirmed >= this.lastId) resolve(true);
        else this.waiters.push(check);
      };
      check();
    });
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  get lastId(): number {
    return this.nextId - 1;
  }

  /** Yields every confirmed event after `afterId` in batches, live, until the log ends or `signal` aborts. */
  async *follow(afterId: number, signal: AbortSignal): AsyncGenerator<RunEvent[]> {
    let seen = Math.max(afterId, 0);
    while (!signal.aborted && !this.lost) {
      if (this.confirmed > seen) {
        const batch = this.after(seen, this.confirmed);
        seen = this.confirmed;
        if (batch.length) yield batch;
        continue;
      }
      if (this.ended && this.confirmed >= this.lastId) return;
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        signal.addEventListener("abort", onAbort, { once: true });
        this.waiters.push(() => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        });
      });
    }
  }

  /** Events with from < id <= to (binary search: ids increase). */
  private after(from: number, to: number): RunEvent[] {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid]!.id <= from) lo = mid + 1;
      else hi = mid;
    }
    const out: RunEvent[] = [];
    for (let i = lo; i < this.events.length && this.events[i]!.id <= to; i++) out.push(this.events[i]!);
    return out;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
