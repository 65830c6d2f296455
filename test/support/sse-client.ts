// Reads a real SSE response body chunk by chunk and parses its events, with arrival times:
// never `await res.text()` on a stream that may heartbeat. readSse checks every named event
// against the run's contract (src/run/events.ts), so every run the suite reads is validated.
import { parseEvent } from "../../src/run/events.js";

export interface SseEvent {
  id?: number;
  event: string;
  data: any;
  at: number;
}

export interface SseRead {
  status: number;
  headers: Headers;
  events: SseEvent[];
  comments: string[];
  /** ms from the request to the response headers. */
  headersAt: number;
}

export function parseSse(text: string, at = 0): { events: SseEvent[]; comments: string[]; rest: string } {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const frames = text.split("\n\n");
  const rest = frames.pop()!;
  for (const frame of frames) {
    let ev: Partial<SseEvent> & { dataLines?: string[] } = {};
    for (const line of frame.split("\n")) {
      if (line.startsWith(":")) comments.push(line.slice(1).trim());
      else if (line.startsWith("id: ")) ev.id = Number(line.slice(4));
      else if (line.startsWith("event: ")) ev.event = line.slice(7);
      else if (line.startsWith("data: ")) (ev.dataLines ??= []).push(line.slice(6));
    }
    if (ev.event || ev.dataLines) {
      const raw = (ev.dataLines ?? []).join("\n");
      let data: unknown = raw;
      try {
        data = JSON.parse(raw);
      } catch {}
      events.push({ id: ev.id, event: ev.event ?? "message", data, at });
    }
  }
  return { events, comments, rest };
}

export interface ReadOptions {
  /** Stop reading (cancel the body: a client disconnect) once this returns true. */
  until?: (events: SseEvent[]) => boolean;
  headers?: Record<string, string>;
  method?: string;
  /** Skip the contract check: for a test that reads a deliberately odd stream. */
  raw?: boolean;
}

/**
 * Throws unless `e` is an event of the run's contract with a valid payload. Data-only events
 * (`message`: the OpenAI-compatible stream) are not run events and pass.
 */
export function checkEvent(e: SseEvent, where: string): void {
  if (e.event === "message") return;
  try {
    parseEvent(e.id ?? 0, e.event, e.data);
  } catch (err) {
    const why = err instanceof Error && "issues" in err ? JSON.stringify((err as { issues: unknown }).issues) : String((err as Error).message);
    throw new Error(`${where}: event ${e.id ?? "?"} "${e.event}" breaks the run's contract: ${why}`);
  }
}

/** POSTs JSON (or GETs) and reads the SSE stream to its end, or until `until` says stop. */
export async function readSse(url: string, body?: unknown, opts: ReadOptions = {}): Promise<SseRead> {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: opts.method ?? (body === undefined ? "GET" : "POST"),
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...opts.headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const headersAt = performance.now() - t0;
  const out: SseRead = { status: res.status, headers: res.headers, events: [], comments: [], headersAt };
  if (!res.body || !res.headers.get("content-type")?.startsWith("text/event-stream")) {
    out.events.push({ event: "json", data: await res.json().catch(() => null), at: headersAt });
    return out;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    const parsed = parseSse(buf, performance.now() - t0);
    buf = parsed.rest;
    if (!opts.raw) {
      try {
        for (const e of parsed.events) checkEvent(e, url);
      } catch (err) {
        await reader.cancel();
        throw err;
      }
    }
    out.events.push(...parsed.events);
    out.comments.push(...parsed.comments);
    if (opts.until?.(out.events)) {
      await reader.cancel();
      break;
    }
  }
  return out;
}

export const names = (r: SseRead) => r.events.map((e) => e.event);
export const last = (r: SseRead) => r.events[r.events.length - 1]!;
export const ofType = (r: SseRead, type: string) => r.events.filter((e) => e.event === type);
