// The openai SDK's transport (its documented `fetch` option), on undici's dispatcher API. The SDK
// stays in charge of requests, headers, retries and errors; only the bytes travel another way.
// Global fetch (undici too) wraps every response in a web ReadableStream, and node:http in an
// IncomingMessage: per network read of a streamed answer, both run a stream's machinery (events,
// buffers, promises). Here undici's handler hands each read straight to the body below, which
// hands it, decoded, to whoever reads it: in the benchmark, the HTTP client was the largest share
// of CPU per run left.
import { StringDecoder } from "node:string_decoder";
import { Agent, EnvHttpProxyAgent, type Dispatcher } from "undici";
import type { ProxyConfig } from "../config/env.js";

/**
 * The SDK's `fetch`: one pool per upstream origin, connections kept alive and not capped (p-limit
 * caps the calls). With a proxy (HTTP_PROXY…, NO_PROXY honoured), as curl does: https:// through a
 * CONNECT tunnel, http:// as requests for the whole URL (many proxies allow CONNECT to 443 only).
 */
export function upstreamFetch(proxy?: ProxyConfig): typeof fetch {
  const agent = proxy ? new EnvHttpProxyAgent({ ...proxy, keepAliveTimeout: 30_000, proxyTunnel: false }) : new Agent({ keepAliveTimeout: 30_000 });
  return ((input: string | URL | Request, init?: RequestInit) => undiciFetch(agent, input, init)) as typeof fetch;
}

type RawHeaders = Record<string, string | string[] | undefined>;

function headerRecord(h: RequestInit["headers"]): Record<string, string> {
  if (!h) return {};
  if (h instanceof Headers) return Object.fromEntries(h.entries());
  if (Array.isArray(h)) return Object.fromEntries(h);
  return h as Record<string, string>;
}

/** The read side of fetch's Headers over a plain (lower-cased) header object. */
class PlainHeaders {
  constructor(private raw: RawHeaders) {}
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

/**
 * A response body read by pushing: `read(onText)` gets the text as it arrives (what came before
 * the reader did, first) and resolves at the end; it rejects when the response fails or is aborted.
 */
export class UpstreamBody {
  private early: Buffer[] = [];
  private onText?: (text: string) => void;
  private settle?: { resolve: () => void; reject: (err: unknown) => void };
  private outcome?: { error?: unknown };
  private readonly decoder = new StringDecoder("utf8");

  constructor(private readonly cancel: () => void) {}

  read(onText: (text: string) => void): Promise<void> {
    if (this.onText) return Promise.reject(new TypeError("the body is already being read"));
    this.onText = onText;
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
      const early = this.early;
      this.early = [];
      for (const chunk of early) this.data(chunk);
      if (this.outcome) this.finish();
    });
  }

  async text(): Promise<string> {
    let s = "";
    await this.read((t) => (s += t));
    return s;
  }

  // The SDK cancels a body it will not read (before a retry) through its async iterator's return().
  [Symbol.asyncIterator]() {
    return {
      next: () => Promise.reject(new TypeError("read the body with read()")),
      return: async () => {
        this.cancel();
        return { done: true as const, value: undefined };
      },
    };
  }

  /** From the handler: a network read. A reader that throws ends the response. */
  data(chunk: Buffer): void {
    if (!this.onText) return void this.early.push(chunk);
    try {
      this.onText(this.decoder.write(chunk));
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    this.onText = () => {};
    this.settle!.reject(err); // first: the cancel below ends the response with an abort error
    this.cancel();
  }

  end(error?: unknown): void {
    if (this.outcome) return;
    this.outcome = error === undefined ? {} : { error };
    if (this.settle) this.finish();
  }

  private finish(): void {
    const { error } = this.outcome!;
    if (error !== undefined) return this.settle!.reject(error);
    const rest = this.decoder.end();
    try {
      if (rest) this.onText!(rest);
    } catch (err) {
      return this.fail(err);
    }
    this.settle!.resolve();
  }
}

/** The part of a fetch Response the SDK uses. */
class UpstreamResponse {
  readonly ok: boolean;
  readonly bodyUsed = false;
  readonly headers: PlainHeaders;
  constructor(
    readonly status: number,
    headers: RawHeaders,
    readonly statusText: string,
    readonly body: UpstreamBody,
    readonly url: string,
  ) {
    this.ok = status >= 200 && status < 300;
    this.headers = new PlainHeaders(headers);
  }
  text(): Promise<string> {
    return this.body.text();
  }
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
}

const abortError = (signal: AbortSignal | null | undefined) => signal?.reason ?? new DOMException("This operation was aborted", "AbortError");

function undiciFetch(agent: Dispatcher, input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
  const signal = init.signal;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  // `init` (the request body among it) is used here only, outside the closures below: they live
  // as long as the response, and would keep whatever they can see.
  const request: Dispatcher.DispatchOptions = {
    origin: url.origin,
    path: url.pathname + url.search,
    method: (init.method ?? "GET") as Dispatcher.HttpMethod,
    headers: headerRecord(init.headers),
    body: typeof init.body === "string" || init.body instanceof Uint8Array ? init.body : null,
  };
  let resolve!: (r: Response) => void;
  let reject!: (err: unknown) => void;
  const response = new Promise<Response>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  let controller: Dispatcher.DispatchController | undefined;
  let body: UpstreamBody | undefined;
  const onAbort = () => controller?.abort(abortError(signal));
  signal?.addEventListener("abort", onAbort, { once: true });
  const done = (error?: unknown) => {
    signal?.removeEventListener("abort", onAbort);
    if (body) body.end(error);
    else reject(error);
  };
  agent.dispatch(request, {
    onRequestStart(c) {
      controller = c;
      if (signal?.aborted) onAbort();
    },
    onResponseStart(c, status, headers, statusText) {
      // undici's controller keeps the raw header buffers for the response's life; they are parsed in `headers`.
      (c as { rawHeaders?: unknown }).rawHeaders = null;
      body = new UpstreamBody(() => c.abort(new DOMException("The body was cancelled", "AbortError")));
      resolve(new UpstreamResponse(status, headers, statusText ?? "", body, url.href) as unknown as Response);
    },
    onResponseData(_c, chunk) {
      body!.data(chunk);
    },
    onResponseEnd() {
      done();
    },
    onResponseError(_c, err) {
      done(err);
    },
  });
  return response;
}
