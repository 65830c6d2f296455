// A run's append-only, numbered event log. The orchestration appends; every SSE follower
// (first client, resumer, duplicate POST) reads from the id it has seen, then live until the end.
import { runEvent, type EventData, type EventName, type RunEvent } from "./events.js";

export type { RunEvent } from "./events.js";

/** Anything a client can follow: a local log, or a run held by another instance. */
export interface Followable {
  follow(afterId: number, signal: AbortSignal): AsyncGenerator<RunEvent[]>;
}

export class EventLog implements Followable {
  readonly events: RunEvent[] = [];
  ended = false;
  /** Sees every event as it is appended (mirroring to Redis). */
  onAppend: ((ev: RunEvent) => void) | undefined;
  private waiters: (() => void)[] = [];

  append<E extends EventName>(event: E, data: EventData<E>): RunEvent {
    if (this.ended) throw new Error(`event log already ended (appending ${event})`);
    const ev = runEvent(this.events.length + 1, event, data);
    this.events.push(ev);
    this.onAppend?.(ev);
    this.wake();
    return ev;
  }
  end(): void {
    this.ended = true;
    this.wake();
  }

  get lastId(): number {
    return this.events.length;
  }

  /** Yields every event after `afterId` in batches (all that is there), live, until the log ends or `signal` aborts. */
  async *follow(afterId: number, signal: AbortSignal): AsyncGenerator<RunEvent[]> {
    let pos = Math.min(Math.max(afterId, 0), this.events.length);
    while (!signal.aborted) {
      if (pos < this.events.length) {
        const batch = this.events.slice(pos);
        pos = this.events.length;
        yield batch;
        continue;
      }
      if (this.ended) return;
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

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
