// Writes an SSE stream to one client, straight onto Node's response so that
// backpressure is real: a write that the socket does not take waits for 'drain', and a
// client that reads nothing for SSE_WRITE_TIMEOUT_MS is disconnected.
import type { ServerResponse } from "node:http";
import type { Followable } from "../run/event-log.js";

/** Text to write, produced until the source ends or `gone` (the client left) aborts. */
export type SseSource = (gone: AbortSignal) => AsyncIterable<string>;

/** A run's events from after `afterId`, each batch joined into one write. */
export const eventFrames =
  (log: Followable, afterId: number): SseSource =>
  async function* (gone) {
    for await (const batch of log.follow(afterId, gone)) {
      yield batch.length === 1 ? batch[0]!.frame : batch.map((e) => e.frame).join("");
    }
  };

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
export async function writeSse(res: ServerResponse, source: SseSource, opts: SseOptions): Promise<void> {
  const gone = new AbortController();
  const onClose = () => gone.abort();
  res.once("close", onClose);
  res.writeHead(200, { ...opts.headers, ...SSE_HEADERS });
  res.flushHeaders();

  // One timer per stream, pushed back (refresh) after every write rather than re-created.
  const heartbeat = setTimeout(function ping() {
    if (gone.signal.aborted) return;
    const waiting = send(": ping\n\n");
    if (waiting) void waiting.then(() => heartbeat.refresh());
    else heartbeat.refresh();
  }, opts.heartbeatMs);

  // Text is gathered and written once per turn of the event loop (setImmediate): tokens that
  // arrived together leave in one syscall instead of one each. A write the socket does not
  // take makes the next sends wait for 'drain', but not forever.
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
    if (!pending || res.destroyed) return;
    const text = pending;
    pending = "";
    if (!res.write(text)) draining ??= waitForDrain();
  };
  /** Undefined unless the client is behind (the common case makes no promise). */
  const send = (text: string): Promise<void> | undefined => {
    pending += text;
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
    return draining;
  };

  try {
    for await (const text of source(gone.signal)) {
      const waiting = send(text);
      if (waiting) await waiting;
      if (gone.signal.aborted) break;
      heartbeat.refresh();
    }
  } finally {
    clearTimeout(heartbeat);
    res.off("close", onClose);
    if (!res.destroyed) res.end(pending);
    pending = "";
  }
}
