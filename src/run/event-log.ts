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
  private subscribers = new Set<{ onEvent: (ev: RunEvent) => void; onEnd: () => void }>();

  append<E extends EventName>(event: E, data: EventData<E>): RunEvent {
    if (this.ended) throw new Error(`event log already ended (appending ${event})`);
    const ev = runEvent(this.events.length + 1, event, data);
    this.events.push(ev);
    this.onAppend?.(ev);
    for (const s of this.subscribers) s.onEvent(ev);
    this.wake();
    return ev;
  }
  end(): void {
    this.ended = true;
    for (const s of this.subscribers) s.onEnd();
    this.subscribers.clear();
    this.wake();
  }

  /**
   * The push side of `follow`, for a reader in this process: `onEvent` gets every event after
   * `afterId` (those there now at once, then each as it is appended), `onEnd` once the log has
   * ended. No promise or generator step per event: this is the path of every token a client sees.
   * Returns the unsubscribe.
   */
  subscribe(afterId: number, onEvent: (ev: RunEvent) => void, onEnd: () => void): () => void {
    for (let i = Math.min(Math.max(afterId, 0), this.events.length); i < this.events.length; i++) onEvent(this.events[i]!);
    if (this.ended) {
      onEnd();
      return () => {};
    }
    const sub = { onEvent, onEnd };
    this.subscribers.add(sub);
    return () => this.subscribers.delete(sub);
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
    if (this.waiters.length === 0) return; // the common case: every reader is pushed to, or none waits
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
