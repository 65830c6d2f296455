// The benchmark's load driver, its own process (spawned with an IPC channel by run.ts, or by hand).
// `load`: POSTs runs at a concurrency for a count or a duration and reads every SSE stream to its
// end with a raw node:http client, timing headers, the first `summary_delta` and `done`.
// `hold`: opens N streams, at most `parallel` still opening at once, reports "opened", and on a
// "close" message drops them all at once, reporting when.
//
//   node bench/dist/driver.js '{"mode":"load","url":"http://127.0.0.1:8080","concurrency":10,"count":50}'
import { Agent, request, type ClientRequest } from "node:http";

export interface LoadOptions {
  mode: "load";
  url: string;
  concurrency: number;
  count: number;
  /** Stop starting runs after this many seconds, even short of `count`. */
  durationS?: number;
  /** Runs are tagged `<tagPrefix>.<i>`: the message_id, and `[bench:<tag>]` in the message. */
  tagPrefix?: string;
  /** The question (default: a short one); the tag is appended. */
  message?: string;
  /** More request fields (agents, strategy). */
  extra?: Record<string, unknown>;
  /** Runs per conversation (conversation_id), one after the other: `count` counts runs. Default 1. */
  turns?: number;
}

export interface HoldOptions {
  mode: "hold";
  url: string;
  count: number;
  parallel: number;
  tagPrefix?: string;
}

export interface RunResult {
  tag: string;
  /** HTTP status (0: connection failed). */
  http: number;
  /** `done` status (ok, partial) or `error:<code>`, or `incomplete`. */
  status: string;
  /** ms from the start of the load to this run's request. */
  startMs: number;
  /** Wall-clock ms of the request (performance.timeOrigin + now), to line up with the upstream's. */
  startAt: number;
  /** ms from the request to the headers, the first summary_delta, the done/error event. */
  headersMs?: number;
  firstDeltaMs?: number;
  doneMs?: number;
}

export interface LoadResult {
  runs: RunResult[];
  wallMs: number;
  /** The driver's own CPU time, to see whether the load generator was the bottleneck. */
  cpuMs: number;
}

export type DriverMessage =
  | { type: "result"; result: LoadResult }
  | { type: "opened"; count: number; failed: number }
  | { type: "closed"; at: number };

const MESSAGE = "Explain gravity like I am 5";
const now = () => performance.now();
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

/** One run: `done` resolves when the stream has ended; `onFirstData` is called on its first bytes. */
function startRun(
  url: URL,
  tag: string,
  since: number,
  onFirstData?: () => void,
  fields: { message?: string; extra?: Record<string, unknown> } = {},
): { req: ClientRequest; done: Promise<RunResult> } {
  const body = JSON.stringify({ message: `${fields.message ?? MESSAGE} [bench:${tag}]`, message_id: tag, ...fields.extra });
  const t0 = now();
  const r: RunResult = { tag, http: 0, status: "incomplete", startMs: t0 - since, startAt: performance.timeOrigin + t0 };
  let req!: ClientRequest;
  const done = new Promise<RunResult>((resolve) => {
    req = request(
      {
        host: url.hostname,
        port: url.port,
        path: "/api/process",
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        r.http = res.statusCode ?? 0;
        r.headersMs = now() - t0;
        res.setEncoding("utf8");
        let tail = ""; // the end of the previous chunk: a marker may straddle two chunks
        let end = ""; // the text from the `done`/`error` event on
        let first = true;
        res.on("data", (chunk: string) => {
          if (first && onFirstData) {
            first = false;
            onFirstData();
          }
          if (end) {
            end += chunk;
            return;
          }
          const s = tail + chunk;
          if (r.firstDeltaMs === undefined && s.includes("event: summary_delta")) r.firstDeltaMs = now() - t0;
          const i = Math.max(s.indexOf("event: done"), s.indexOf("event: error"));
          if (i >= 0) {
            r.doneMs = now() - t0;
            end = s.slice(i);
          }
          tail = s.slice(-32);
        });
        const finish = () => {
          if (r.http !== 200) r.status = `http:${r.http}`;
          else if (end.startsWith("event: done")) r.status = /"status":"(\w+)"/.exec(end)?.[1] ?? "done";
          else if (end) r.status = `error:${/"code":"(\w+)"/.exec(end)?.[1] ?? "?"}`;
          resolve(r);
        };
        res.on("end", finish);
        res.on("close", finish);
      },
    );
    req.on("error", () => resolve(r));
    req.end(body);
  });
  return { req, done };
}

async function load(o: LoadOptions): Promise<LoadResult> {
  const url = new URL(o.url);
  const prefix = o.tagPrefix ?? `r${process.pid}`;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const stopAt = o.durationS ? t0 + o.durationS * 1000 : Infinity;
  const runs: RunResult[] = [];
  let next = 0;
  const turns = o.turns ?? 1;
  const fields = { message: o.message, extra: o.extra };
  // A worker takes a conversation (or a single run) at a time; its turns go one after the other.
  const worker = async () => {
    while (next < o.count && now() < stopAt) {
      const first = next;
      next += turns;
      const extra = turns > 1 ? { ...o.extra, conversation_id: `${prefix}.c${first}` } : o.extra;
      for (let i = first; i < first + turns; i++) runs.push(await startRun(url, `${prefix}.${i}`, t0, undefined, { ...fields, extra }).done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.count) }, worker));
  const cpu = process.cpuUsage(cpu0);
  return { runs, wallMs: now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function hold(o: HoldOptions, send: (m: DriverMessage) => Promise<void>, closeRequested: Promise<void>) {
  const url = new URL(o.url);
  const prefix = o.tagPrefix ?? `h${process.pid}`;
  const reqs: ClientRequest[] = [];
  const ends: Promise<RunResult>[] = [];
  let failed = 0;
  let next = 0;
  // Each opener starts a stream and waits for its first event before starting the next one.
  const opener = async () => {
    while (next < o.count) {
      const tag = `${prefix}.${next++}`;
      await new Promise<void>((opened) => {
        const { req, done } = startRun(url, tag, now(), opened);
        reqs.push(req);
        ends.push(done);
        void done.then((r) => {
          if (r.status !== "incomplete" || r.http !== 200) failed++;
          opened();
        });
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.parallel, o.count) }, opener));
  await send({ type: "opened", count: reqs.length, failed });
  await closeRequested;
  const at = performance.timeOrigin + now();
  for (const req of reqs) req.destroy();
  await send({ type: "closed", at });
}

const opts = JSON.parse(process.argv[2] ?? "{}") as LoadOptions | HoldOptions;
const send = (m: DriverMessage) =>
  new Promise<void>((resolve) => {
    if (process.send) process.send(m, undefined, {}, () => resolve());
    else process.stdout.write(`${JSON.stringify(m)}\n`, () => resolve());
  });
if (opts.mode === "load") {
  await send({ type: "result", result: await load(opts) });
} else {
  // The close order comes over IPC, or as any line on stdin when run by hand.
  const closeRequested = new Promise<void>((resolve) => {
    if (process.send) process.once("message", () => resolve());
    else process.stdin.once("data", () => resolve());
  });
  await hold(opts, send, closeRequested);
}
process.disconnect?.();
process.exit(0);
