// Writes a run's event log to one client as SSE, straight onto Node's response so that
// backpressure is real: a write that the socket does not take waits for 'drain', and a
// client that reads nothing for SSE_WRITE_TIMEOUT_MS is disconnected.
import type { ServerResponse } from "node:http";
import type { EventLog } from "../run/event-log.js";

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

/** Resolves when the log has ended and was fully written, or the client went away. */
export async function writeSse(res: ServerResponse, log: EventLog, afterId: number, opts: SseOptions): Promise<void> {
  const gone = new AbortController();
  const onClose = () => gone.abort();
  res.once("close", onClose);
  res.writeHead(200, { ...opts.headers, ...SSE_HEADERS });
  res.flushHeaders();

  let heartbeat: NodeJS.Timeout | undefined;
  const armHeartbeat = () => {
    clearTimeout(heartbeat);
    heartbeat = setTimeout(() => {
      if (!gone.signal.aborted) void send(": ping\n\n").then(armHeartbeat);
    }, opts.heartbeatMs);
  };

  const send = async (text: string): Promise<void> => {
    if (res.write(text)) return;
    // The socket's buffer is full: wait for the client, but not forever.
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        res.off("drain", done);
        gone.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(() => {
        res.destroy();
        done();
      }, opts.writeTimeoutMs);
      res.once("drain", done);
      gone.signal.addEventListener("abort", done, { once: true });
    });
  };

  try {
    armHeartbeat();
    for await (const batch of log.follow(afterId, gone.signal)) {
      // One write per batch: every event that is ready goes out in one syscall.
      await send(batch.length === 1 ? batch[0]!.frame : batch.map((e) => e.frame).join(""));
      if (gone.signal.aborted) break;
      armHeartbeat();
    }
  } finally {
    clearTimeout(heartbeat);
    res.off("close", onClose);
    if (!res.destroyed) res.end();
  }
}
