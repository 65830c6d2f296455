// The openai SDK's transport (its documented `fetch` option), on node:http/https with
// keep-alive agents. The SDK stays in charge of requests, retries, errors and SSE parsing; it
// only reads the body through a lighter pipe. Global fetch (undici) turns every response into
// a web ReadableStream and copies bytes on the way: in the benchmark that transport alone cost
// more CPU per run than all of Chorus's own code. A Node IncomingMessage is async-iterable,
// which is all the SDK needs of a streaming body.
import http, { type IncomingMessage } from "node:http";
import https from "node:https";

// Idle connections kept per upstream host. Node's default (256) is below the calls a busy
// replica has in flight: past it, every burst of calls ended closes connections that the next
// burst opens again (a TCP and, on https, a TLS handshake each).
const keep = { keepAlive: true, maxFreeSockets: 4096 };
const agents = {
  "http:": new http.Agent(keep),
  "https:": new https.Agent(keep),
};

function headerRecord(h: RequestInit["headers"]): Record<string, string> {
  if (!h) return {};
  if (h instanceof Headers) return Object.fromEntries(h.entries());
  if (Array.isArray(h)) return Object.fromEntries(h);
  return h as Record<string, string>;
}

/** The read side of fetch's Headers over Node's (already lower-cased) header object. */
class NodeHeaders {
  constructor(private raw: IncomingMessage["headers"]) {}
  get(name: string): string | null {
    const v = this.raw[name.toLowerCase()];
    return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
  }
  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }
  *entries(): IterableIterator<[string, string]> {
    for (const k of Object.keys(this.raw)) yield [k, this.get(k)!];
  }
  *keys(): IterableIterator<string> {
    yield* Object.keys(this.raw);
  }
  *values(): IterableIterator<string> {
    for (const [, v] of this.entries()) yield v;
  }
  forEach(fn: (value: string, key: string) => void): void {
    for (const [k, v] of this.entries()) fn(v, k);
  }
  [Symbol.iterator]() {
    return this.entries();
  }
}

/** The part of a fetch Response the SDK uses, over a Node response. */
class NodeResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly statusText: string;
  readonly headers: NodeHeaders;
  readonly bodyUsed = false;

  constructor(
    readonly body: IncomingMessage,
    readonly url: string,
  ) {
    this.status = body.statusCode ?? 0;
    this.ok = this.status >= 200 && this.status < 300;
    this.statusText = body.statusMessage ?? "";
    this.headers = new NodeHeaders(body.headers);
  }

  async text(): Promise<string> {
    let s = "";
    for await (const chunk of this.body) s += chunk;
    return s;
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
}

export async function nodeFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: init.method ?? "GET",
        headers: headerRecord(init.headers),
        agent: agents[url.protocol as keyof typeof agents],
        // An abort rejects with an AbortError before headers, and errors the body after.
        signal: init.signal ?? undefined,
      },
      (res) => resolve(new NodeResponse(res, url.href) as unknown as Response),
    );
    req.on("error", reject);
    req.end(typeof init.body === "string" || init.body instanceof Uint8Array ? init.body : undefined);
  });
}
