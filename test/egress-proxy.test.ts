// Upstream calls through an egress proxy, as on a network that only lets HTTP out through one:
// a Chorus process started with HTTP_PROXY sends every model call through it (NO_PROXY
// honoured), the API key passing through to the model server. The proxy is a plain HTTP
// forward proxy (absolute-form requests, as curl and undici send to one for http:// targets).
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chorusProcess } from "./support/chorus-process.js";
import { startMockUpstream, type MockUpstream } from "./support/mock-upstream.js";
import { last, readSse } from "./support/sse-client.js";

let upstream: MockUpstream;
let proxy: Server;
let proxyUrl: string;
const forwarded: { url: string; auth?: string }[] = [];

beforeAll(async () => {
  upstream = await startMockUpstream();
  proxy = createServer((req, res) => {
    // A forward proxy is asked for the whole URL; anything else is not for it.
    if (!req.url?.startsWith("http://")) return void res.writeHead(400).end("absolute-form only");
    forwarded.push({ url: req.url, auth: req.headers.authorization });
    const out = request(req.url, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    out.on("error", () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise((r) => proxy?.close(r));
  await upstream?.close();
});

const env = () => ({ USE_LLM_MOCK: "false", LLM_BASE_URL: upstream.url, LLM_KEY: "sk-egress-test", LLM_MAX_RETRIES: "0" });

describe("model calls through an egress proxy", () => {
  it("go through HTTP_PROXY when it is set: every call of the run, with its key", { timeout: 60_000 }, async () => {
    const chorus = await chorusProcess({ ...env(), HTTP_PROXY: proxyUrl, http_proxy: proxyUrl, NO_PROXY: "", no_proxy: "" });
    try {
      forwarded.length = 0;
      const r = await readSse(`${chorus.url}/api/process`, { message: "Why is the sky blue?", message_id: "egress-1" });
      expect(last(r).event).toBe("done");
      // Three agents and the summarizer, each through the proxy to the model server.
      expect(forwarded).toHaveLength(4);
      expect(forwarded.every((f) => f.url === `${upstream.url}/chat/completions` && f.auth === "Bearer sk-egress-test")).toBe(true);
    } finally {
      await chorus.stop();
    }
  });

  it("go straight to a host NO_PROXY names", { timeout: 60_000 }, async () => {
    const chorus = await chorusProcess({ ...env(), HTTP_PROXY: proxyUrl, NO_PROXY: "127.0.0.1", no_proxy: "127.0.0.1" });
    try {
      forwarded.length = 0;
      const before = upstream.calls.length;
      const r = await readSse(`${chorus.url}/api/process`, { message: "Why is the sky blue?", message_id: "egress-2" });
      expect(last(r).event).toBe("done");
      expect(upstream.calls.length - before).toBe(4);
      expect(forwarded).toHaveLength(0);
    } finally {
      await chorus.stop();
    }
  });
});
