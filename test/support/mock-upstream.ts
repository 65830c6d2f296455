// A mock OpenAI-compatible server for tests: streams real `chat.completion.chunk` SSE over
// plain node:http (or node:https with `tls`), split across TCP writes at awkward places, and can
// fail, stall, send garbage or cut the connection, per request, as the test's plan says.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface ChatBody {
  model: string;
  messages: { role: string; content: string }[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
}

export interface Plan {
  /** Answer with this HTTP status and an error body instead of a stream. */
  status?: number;
  retryAfter?: string;
  /** Time before the response headers, in ms. */
  ttftMs?: number;
  tokens?: string[];
  tokenDelayMs?: number;
  /** Close the socket after this many tokens, without finishing the stream. */
  cutAfter?: number;
  /** Send a chunk that is not JSON after this many tokens. */
  garbageAfter?: number;
  /** Stop sending after this many tokens, keeping the connection open. */
  stallAfter?: number;
  /** Send exactly these bytes as the SSE body, a write each (wire-format tests), then end. */
  body?: Buffer[];
}

export type Planner = (body: ChatBody, n: number) => Plan;

export interface UpstreamCall {
  body: ChatBody;
  /** The Authorization header the call came with. */
  auth?: string;
  /** The W3C traceparent header the call came with (tracing on). */
  traceparent?: string;
  /** performance.now() when the request arrived / its connection closed. */
  at: number;
  closedAt?: number;
  /** performance.now() when the whole response had been written (the answer's last byte left). */
  finishedAt?: number;
  /** The response was not finished when the connection closed: the client aborted. */
  aborted?: boolean;
}

export interface MockUpstream {
  url: string;
  calls: UpstreamCall[];
  /** Calls still open. */
  open(): number;
  /** Connections accepted so far. */
  connections(): number;
  setPlanner(p: Planner): void;
  close(): Promise<void>;
}

/** Which agent a request is from: the role named in its system prompt ("You are the Critic"). */
export function callerOf(body: ChatBody): string {
  const sys = body.messages.find((m) => m.role === "system")?.content ?? "";
  return /You are the (\w+)/.exec(sys)?.[1]?.toLowerCase() ?? "unknown";
}

const defaultTokens = (body: ChatBody) => `Answer from ${callerOf(body)}: all good here.`.split(/(?<= )/);

function chunk(id: string, model: string, delta: object, finish: string | null = null) {
  return `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

/** Writes `text` in two pieces split at an arbitrary point: the client must reassemble frames. */
function writeSplit(res: ServerResponse, text: string, seed: number) {
  const at = 1 + (seed % Math.max(1, text.length - 1));
  res.write(text.slice(0, at));
  res.write(text.slice(at));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `tls`: serve https:// with this key and certificate (test/support/tls holds one for 127.0.0.1). */
export async function startMockUpstream(planner: Planner = () => ({}), tls?: { key: string; cert: string }): Promise<MockUpstream> {
  const calls: UpstreamCall[] = [];
  const sockets = new Set<import("node:net").Socket>();
  let plan = planner;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let raw = "";
    for await (const c of req) raw += c;
    if (req.url?.endsWith("/models")) {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ object: "list", data: [{ id: "mock", object: "model" }] }));
      return;
    }
    const body = JSON.parse(raw) as ChatBody;
    const call: UpstreamCall = { body, auth: req.headers.authorization, traceparent: req.headers.traceparent as string | undefined, at: performance.now() };
    calls.push(call);
    res.on("finish", () => (call.finishedAt = performance.now()));
    res.on("close", () => {
      call.closedAt = performance.now();
      call.aborted = !res.writableFinished;
    });
    const p = plan(body, calls.length - 1);
    await sleep(p.ttftMs ?? 0);
    if (res.destroyed) return;
    if (p.status) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (p.retryAfter) headers["retry-after"] = p.retryAfter;
      res.writeHead(p.status, headers).end(JSON.stringify({ error: { message: "upstream says no: sk-SECRET-IN-BODY", type: "server_error" } }));
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream" });
    if (p.body) {
      for (const piece of p.body) {
        res.write(piece);
        await sleep(2); // a read each on the other side
      }
      return void res.end();
    }
    const id = `chatcmpl-${calls.length}`;
    const tokens = p.tokens ?? defaultTokens(body);
    writeSplit(res, chunk(id, body.model, { role: "assistant", content: "" }), 7);
    for (let i = 0; i < tokens.length; i++) {
      if (p.cutAfter === i) return void res.socket?.destroy();
      if (p.garbageAfter === i) res.write("data: {not json at all\n\n");
      if (p.stallAfter === i) return; // keep the socket open, send nothing more
      if (p.tokenDelayMs) await sleep(p.tokenDelayMs);
      if (res.destroyed) return;
      writeSplit(res, chunk(id, body.model, { content: tokens[i] }), i * 13 + 5);
    }
    res.write(chunk(id, body.model, {}, "stop"));
    if (body.stream_options?.include_usage) {
      const completion = tokens.length;
      res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 1, model: body.model, choices: [], usage: { prompt_tokens: 10, completion_tokens: completion, total_tokens: 10 + completion } })}\n\n`);
    }
    res.end("data: [DONE]\n\n");
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => void handle(req, res).catch(() => res.destroy());
  const server: Server = tls ? createTlsServer(tls, listener) : createServer(listener);
  let connections = 0;
  server.on("connection", (s) => {
    connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}/v1`,
    calls,
    open: () => calls.filter((c) => c.closedAt === undefined).length,
    connections: () => connections,
    setPlanner: (p) => {
      plan = p;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
