// Writes an SSE stream to one client, straight onto Node's response so that
// backpressure is real: a write that the socket does not take holds the next ones until
// 'drain', and a client that reads nothing for SSE_WRITE_TIMEOUT_MS is disconnected.
import type { ServerResponse } from "node:http";
import { EventLog, type Followable } from "../run/event-log.js";

/** Text pushed as it is produced (a run held in this process): no promise per event. */
export interface PushSource {
  /** Calls `onText` with each piece, `onEnd` once there is no more; returns the unsubscribe. */
  subscribe(onText: (text: string) => void, onEnd: () => void): () => void;
}

/** Text to write, pulled until the source ends or `gone` (the client left) aborts. */
export type SseSource = (gone: AbortSignal) => AsyncIterable<string>;

/** A run's events from after `afterId`: pushed from a local log, else each batch joined into one write. */
export function eventFrames(log: Followable, afterId: number): SseSource | PushSource {
  if (log instanceof EventLog) return { subscribe: (onText, onEnd) => log.subscribe(afterId, (ev) => onText(ev.frame), onEnd) };
  return async function* (gone) {
    for await (const batch of log.follow(afterId, gone)) {
      yield batch.length === 1 ? batch[0]!.frame : batch.map((e) => e.frame).join("");
    }
  };
}

/**
 * What a stream's `gone` signal aborts with when its client leaves: one shared value, where
 * `abort()` without a reason builds a DOMException, stack and all, per client that leaves.
 */
export const CLIENT_GONE = new Error("the client went away");

export interface SseOptions {
  heartbeatMs: number;
  writeTimeoutMs: number;
  /** Extra headers (rate-limit, request id) set by middleware before the stream starts. */
  headers: Record<string, string>;
}

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
  connection: "keep-alive",
};

/** Resolves when the source has ended and was fully written, or the client went away. */
export async function writeSse(res: ServerResponse, source: SseSource | PushSource, opts: SseOptions): Promise<void> {
  const gone = new AbortController();
  const onClose = () => gone.abort(CLIENT_GONE);
  res.once("close", onClose);
  res.writeHead(200, { ...opts.headers, ...SSE_HEADERS });
  res.flushHeaders();

  // One timer per stream, pushed back (refresh) after every write rather than re-created.
  const heartbeat = setTimeout(function ping() {
    if (gone.signal.aborted) return;
    send(": ping\n\n");
    heartbeat.refresh();
  }, opts.heartbeatMs);

  // Text is gathered and written once per turn of the event loop (setImmediate): tokens that
  // arrived together leave in one syscall instead of one each. While the socket has not taken
  // the last write, text waits here for 'drain', but not forever.
  let pending = "";
  let scheduled = false;
  let draining: Promise<void> | undefined;
  const waitForDrain = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        res.off("drain", done);
        gone.signal.removeEventListener("abort", done);
        draining = undefined;
        resolve();
        if (pending) schedule();
      };
      const timer = setTimeout(() => {
        res.destroy();
        done();
      }, opts.writeTimeoutMs);
      res.once("drain", done);
      gone.signal.addEventListener("abort", done, { once: true });
    });
  const flush = () => {
    scheduled = false;
    if (!pending || draining || res.destroyed || res.writableEnded) return;
    const text = pending;
    pending = "";
    if (!res.write(text)) draining = waitForDrain();
    heartbeat.refresh();
  };
  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  /** Undefined unless the client is behind (the common case makes no promise). */
  const send = (text: string): Promise<void> | undefined => {
    pending += text;
    schedule();
    return draining;
  };

  try {
    if (typeof source === "function") {
      for await (const text of source(gone.signal)) {
        const waiting = send(text);
        if (waiting) await waiting;
        if (gone.signal.aborted) break;
      }
    } else {
      await new Promise<void>((resolve) => {
        let stop: (() => void) | undefined;
        let ended = false;
        const end = () => {
          ended = true;
          stop?.();
          gone.signal.removeEventListener("abort", end);
          resolve();
        };
        gone.signal.addEventListener("abort", end, { once: true });
        stop = source.subscribe(send, end);
        if (ended) stop();
      });
    }
  } finally {
    clearTimeout(heartbeat);
    res.off("close", onClose);
    if (!res.destroyed) res.end(pending);
    pending = "";
  }
}
