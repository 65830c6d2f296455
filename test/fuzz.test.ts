// Seeded fuzzing of the HTTP surface: a few thousand malformed requests (methods, paths,
// headers, bodies, content types, Last-Event-ID values, unicode with lone surrogates, invalid
// UTF-8, huge values, raw bytes that are not HTTP at all) against a real server. Whatever
// arrives, the answer is a 4xx (or a 2xx for the rare valid request), never a 5xx, never a
// hang, and the server is healthy afterwards with no run or stream left behind.
import { request, Agent, type IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scrape } from "./support/prometheus.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

const SEED = 0xc0ffee;
const REQUESTS = 3000;
const RAW_SHARE = 0.12; // sent as raw bytes over TCP, bypassing every client-side check
const CONCURRENCY = 24;
const TIMEOUT_MS = 8000;

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

const LONE_SURROGATES = ["\ud800", "\udfff", "\udbff\u0041", "a\udc00b"];
const UNICODE = ["é", "中文", "🎵", "\u202e", "\u0000", "\u2028", "\ufeff", "ﬃ", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗", ...LONE_SURROGATES];

function randomString(r: Rng, max = 40): string {
  const n = r.int(max);
  let s = "";
  for (let i = 0; i < n; i++) {
    const k = r.int(10);
    if (k < 6) s += String.fromCharCode(32 + r.int(95));
    else if (k < 8) s += r.pick(UNICODE);
    else s += String.fromCharCode(r.int(0x10000)); // any UTF-16 unit, surrogates included
  }
  return s;
}

function randomJson(r: Rng, depth = 0): unknown {
  const k = r.int(depth > 3 ? 5 : 8);
  switch (k) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, -1, 1e309, -0, 1.5, Number.MAX_SAFE_INTEGER + 2, NaN]);
    case 3: case 4: return randomString(r);
    case 5: return Array.from({ length: r.int(5) }, () => randomJson(r, depth + 1));
    default: return Object.fromEntries(Array.from({ length: r.int(5) }, () => [randomString(r, 12), randomJson(r, depth + 1)]));
  }
}

const AGENTS = ["analyst", "critic", "explainer"];

/** A body for POST /api/process: mostly subtly wrong, now and then valid. */
function processBody(r: Rng): unknown {
  const body: Record<string, unknown> = {
    message: r.pick<unknown>([randomString(r, 200), "", "   ", "\n\t", null, 42, ["x"], { m: 1 }, "x".repeat(16_001), "ok " + r.pick(LONE_SURROGATES)]),
    message_id: r.pick<unknown>([`fz-${r.int(1e9)}`, "", "has space", "a".repeat(129), "../../etc", "ok:id.1", randomString(r, 20), 7, null]),
  };
  if (r.chance(0.3)) body.agents = r.pick<unknown>([[], ["nobody"], ["critic", "critic"], "critic", [AGENTS[0]], [null], AGENTS]);
  if (r.chance(0.2)) body.stream_agents = r.pick<unknown>([true, "yes", 1, null]);
  if (r.chance(0.2)) body.conversation_id = r.pick<unknown>(["c-1", "", 5, "a b"]);
  if (r.chance(0.1)) body[randomString(r, 10)] = randomJson(r);
  if (r.chance(0.05)) delete body[r.pick(["message", "message_id"])];
  return body;
}

/** A body for POST /v1/chat/completions. */
function chatBody(r: Rng): unknown {
  return {
    model: r.pick<unknown>(["chorus", "gpt-4o", "", null, 3]),
    messages: r.pick<unknown>([[], [{ role: "user", content: randomString(r, 100) }], [{ role: "tool" }], "hi", [{ role: "user", content: [{ type: "image_url" }] }], null]),
    ...(r.chance(0.5) ? { stream: r.pick<unknown>([true, false, "true", null]) } : {}),
    ...(r.chance(0.2) ? { stream_options: r.pick<unknown>([{ include_usage: true }, "x", null]) } : {}),
  };
}

function encodeBody(r: Rng, value: unknown): Buffer {
  switch (r.int(12)) {
    case 0: return Buffer.alloc(0);
    case 1: return Buffer.from(JSON.stringify(value).slice(0, -1 - r.int(5))); // truncated
    case 2: return Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xed, 0xa0, 0x80]); // invalid UTF-8
    case 3: return Buffer.from("x".repeat(70_000 + r.int(60_000))); // over MAX_BODY_BYTES
    case 4: return Buffer.from(`${"[".repeat(5000)}${"]".repeat(5000)}`); // deep nesting
    case 5: return Buffer.from(JSON.stringify(randomJson(r)));
    case 6: return Buffer.from("\ufeff" + JSON.stringify(value)); // BOM
    default: return Buffer.from(JSON.stringify(value));
  }
}

const CONTENT_TYPES = [
  undefined, "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/json;charset=utf-16",
  "application/jsonx", "text/plain", "multipart/form-data; boundary=zz", "application/x-www-form-urlencoded", "", "*/*", "application/json; q=\"x",
];
const LAST_EVENT_IDS = ["-1", "1e3", "abc", " 5 ", "0x10", "99999999999999999999999", "", "1.5", "NaN", "٣", "5", "0"];

function randomPath(r: Rng): string {
  const id = r.pick([`fz-${r.int(50)}`, "%ED%A0%80", "%F0%9F%8E%B5", "%00", "%", "%zz", "..%2F..", "a".repeat(300), encodeURIComponent(randomString(r, 10).replace(/[\ud800-\udfff]/g, "x"))]);
  return r.pick([
    "/api/process", `/api/process/${id}`, `/api/process/${id}/events`, `/api/process/${id}/events?last_event_id=${encodeURIComponent(r.pick(LAST_EVENT_IDS))}`,
    `/api/conversations/${id}`, "/v1/chat/completions", "/v1/models", `/v1/models/${id}`, "/health", "/ready", "/metrics", "/docs",
    "/openapi.json", "/", "/app.js", "/style.css", `/${id}`, "//api//process", "/api/process/", "/API/PROCESS", "/api/process?x=%",
    `/api/process/${id}/events/${id}`, "/public/../package.json", "/%2e%2e/%2e%2e/etc/passwd",
  ]);
}

interface Sent {
  what: string;
  status?: number;
  error?: string;
}

function httpRequest(base: URL, agent: Agent, r: Rng): Promise<Sent> {
  const method = r.pick(["GET", "POST", "POST", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"]);
  // POSTs mostly go where bodies are validated; the rest wander.
  const path = method === "POST" && r.chance(0.6) ? r.pick(["/api/process", "/api/process", "/v1/chat/completions"]) : randomPath(r);
  const isChat = path.startsWith("/v1/chat");
  const body = method === "GET" || method === "HEAD" ? (r.chance(0.1) ? encodeBody(r, randomJson(r)) : undefined) : encodeBody(r, isChat ? chatBody(r) : processBody(r));
  const headers: Record<string, string> = {};
  const type = r.pick(CONTENT_TYPES);
  if (type !== undefined) headers["content-type"] = type;
  // Latin-1 only: node:http refuses anything else before it leaves (raw requests cover the rest).
  const latin1 = (s = randomString(r, 30)) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, "?");
  if (r.chance(0.3)) headers["last-event-id"] = latin1(r.chance(0.8) ? r.pick(LAST_EVENT_IDS) : undefined);
  if (r.chance(0.3)) headers["x-request-id"] = r.chance(0.5) ? latin1() : "r".repeat(r.pick([1, 128, 129, 5000]));
  if (r.chance(0.2)) headers.authorization = r.pick(["Bearer", "Bearer ", "Basic abc", `Bearer ${latin1()}`, "bearer x y"]);
  if (r.chance(0.1)) headers["x-forwarded-for"] = r.pick(["1.2.3.4, 5.6.7.8", "garbage", ""]);
  if (r.chance(0.05)) headers["content-encoding"] = r.pick(["gzip", "br", "identity"]);
  if (r.chance(0.05)) headers.accept = r.pick(["text/html", "*/*", ""]);
  const what = `${method} ${path} type=${type} body=${body?.length ?? "-"}`;
  const send = (reuse: boolean): Promise<Sent> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        req.destroy();
        resolve({ what, error: "timeout" });
      }, TIMEOUT_MS);
      const done = (s: Sent) => {
        clearTimeout(timer);
        resolve(s);
      };
      const req = request({ host: base.hostname, port: base.port, method, path, headers, agent: reuse ? agent : false }, (res) => {
        const status = res.statusCode!;
        // A valid run streams: take the status and hang up (the run is then cancelled).
        if (isStream(res.headers)) res.destroy();
        else res.resume();
        res.on("end", () => done({ what, status }));
        res.on("close", () => done({ what, status }));
        res.on("error", () => done({ what, status }));
      });
      req.on("error", (e) => {
        clearTimeout(timer);
        // The server may close an idle keep-alive socket just as it is reused: Node's documented
        // race (req.reusedSocket). Send again on a fresh connection.
        if (req.reusedSocket && (e as NodeJS.ErrnoException).code === "ECONNRESET") resolve(send(false));
        else resolve({ what, error: (e as NodeJS.ErrnoException).code ?? e.message });
      });
      if (body) req.end(body);
      else req.end();
    });
  return send(true);
}

const isStream = (h: IncomingHttpHeaders) => String(h["content-type"] ?? "").startsWith("text/event-stream");

/** Bytes no HTTP client library would send. */
function rawRequest(base: URL, r: Rng): Promise<Sent> {
  const line = r.pick([
    "GET /health HTTP/1.1", "POST /api/process HTTP/1.1", `GET /${randomString(r, 20)} HTTP/1.1`, "GARBAGE", "GET /health HTTP/9.9",
    "POST /api/process HTTP/1.0", "\u0000\u0001\u0002", "GET  /health  HTTP/1.1", `GET /api/process/${r.pick(LONE_SURROGATES)}/events HTTP/1.1`,
  ]);
  const headers = [`Host: ${base.host}`, "Connection: close"];
  if (r.chance(0.5)) headers.push(`X-Request-Id: ${randomString(r, 20)}`); // raw unicode, lone surrogates
  if (r.chance(0.3)) headers.push(`Last-Event-ID: ${randomString(r, 10)}`);
  if (r.chance(0.2)) headers.push(`X-Huge: ${"h".repeat(20_000 + r.int(50_000))}`);
  if (r.chance(0.2)) headers.push("Bad Header Name: x", "NoColon");
  if (r.chance(0.1)) headers.push("Transfer-Encoding: chunked", "Content-Length: 5"); // request smuggling shape
  const body = r.chance(0.5) ? JSON.stringify({ message: randomString(r, 50), message_id: `raw-${r.int(1e6)}` }) : "";
  const type = r.pick(["Content-Type: application/json", "Content-Type: text/plain", ""]);
  if (type) headers.push(type);
  headers.push(`Content-Length: ${Buffer.byteLength(body)}`);
  const text = `${line}\r\n${headers.join("\r\n")}\r\n\r\n${body}`;
  const what = `raw ${JSON.stringify(line)}`;
  return new Promise((resolve) => {
    const socket = connect(Number(base.port), base.hostname);
    let got = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ what, error: "timeout" });
    }, TIMEOUT_MS);
    const finish = () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      // Node closes some malformed connections without a word: that is a refusal, not a hang.
      resolve(m ? { what, status: Number(m[1]) } : { what, error: got ? "unparsable answer" : "closed" });
    };
    socket.on("data", (d) => {
      got += d.toString("latin1");
      // Enough to read the status; an SSE answer would run on.
      if (/\r\n/.test(got)) socket.destroy();
    });
    socket.on("close", finish);
    socket.on("error", () => {});
    socket.end(Buffer.from(text, "utf8"));
  });
}

let chorus: TestChorus;
beforeAll(async () => {
  chorus = await startChorus({ RATE_LIMIT_POINTS: "1000000", MAX_STREAMS_PER_CLIENT: "10000", LOG_LEVEL: "warn" });
});
afterAll(() => chorus.close());

describe("fuzzing the HTTP surface", () => {
  it(`answers ${REQUESTS} malformed requests (seed ${SEED}) with 4xx, never 5xx or a hang`, { timeout: 60_000 }, async () => {
    const r = prng(SEED);
    const base = new URL(chorus.url);
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    // Draw every request up front, so that the sequence depends on the seed only, not on timing.
    const plans = Array.from({ length: REQUESTS }, () => {
      const rr = prng(r.int(2 ** 32));
      return r.chance(RAW_SHARE) ? () => rawRequest(base, rr) : () => httpRequest(base, agent, rr);
    });
    const results: Sent[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < plans.length) results.push(await plans[next++]!());
      }),
    );
    agent.destroy();

    const answered = results.filter((s) => s.status !== undefined);
    const serverErrors = answered.filter((s) => s.status! >= 500);
    const hangs = results.filter((s) => s.error === "timeout");
    expect(serverErrors.slice(0, 5)).toEqual([]);
    expect(hangs.slice(0, 5)).toEqual([]);
    // Client-side failures are only sockets Node's parser shut on bytes that are not HTTP, and
    // resets while a client still pushes a body over MAX_BODY_BYTES (64 KiB) that the server
    // refused to read: @hono/node-server drains an unread body for 500 ms, then closes.
    const oversize = (s: Sent) => s.error === "ECONNRESET" && Number(/body=(\d+)/.exec(s.what)?.[1] ?? 0) > 65_536;
    const unanswered = results.filter((s) => s.status === undefined && !s.what.startsWith("raw") && !oversize(s));
    expect(unanswered.slice(0, 5)).toEqual([]);
    expect(answered.length).toBeGreaterThan(REQUESTS * 0.9);
    const statuses = new Set(answered.map((s) => s.status));
    for (const s of [400, 404, 413, 415]) expect(statuses).toContain(s); // the fuzz reached the validators

    const health = await fetch(`${chorus.url}/health`);
    expect(health.status).toBe(200);
    // Nothing left behind: every run the fuzz started ended when its client hung up.
    await expect.poll(async () => (await scrape(chorus.url)).get("chorus_runs_in_flight"), { timeout: 10_000 }).toBe(0);
    const m = await scrape(chorus.url);
    expect(m.get("chorus_open_streams")).toBe(0);
    for (const status of ["500", "502", "503", "504"]) expect(m.get("chorus_http_requests_total", { status })).toBe(0);
    expect(chorus.logs.filter((l) => l.msg === "unhandled error" || l.msg === "run crashed")).toEqual([]);
  });
});
