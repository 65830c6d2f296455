// Upstream calls through an egress proxy, as on a network that only lets HTTP out through one:
// a Chorus process started with HTTP(S)_PROXY sends every model call through it (NO_PROXY
// honoured), the API key passing through to the model server. The proxy is a plain forward
// proxy: absolute-form requests for http:// targets, CONNECT tunnels for https:// ones (the
// model server then has a test certificate for 127.0.0.1, trusted through NODE_EXTRA_CA_CERTS).
import { readFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chorusProcess } from "./support/chorus-process.js";
import { startMockUpstream, type MockUpstream } from "./support/mock-upstream.js";
import { last, readSse } from "./support/sse-client.js";

let upstream: MockUpstream;
let proxy: Server;
let proxyUrl: string;
const forwarded: { url: string; auth?: string }[] = [];
const tunnels: string[] = [];
const tunnelSockets = new Set<Socket>();
const TLS_DIR = join(import.meta.dirname, "support/tls");

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
  // CONNECT host:port: a byte tunnel; what goes through it (TLS) the proxy cannot read.
  proxy.on("connect", (req, client: Socket, head: Buffer) => {
    tunnels.push(req.url!);
    const [host, port] = req.url!.split(":");
    const server = connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      server.write(head);
      server.pipe(client).pipe(server);
    });
    for (const s of [client, server]) {
      tunnelSockets.add(s);
      s.on("error", () => (s === client ? server : client).destroy());
      s.on("close", () => tunnelSockets.delete(s));
    }
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of tunnelSockets) s.destroy();
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

  it("reach an https:// model server through HTTPS_PROXY in a CONNECT tunnel", { timeout: 60_000 }, async () => {
    const tls = { key: readFileSync(join(TLS_DIR, "localhost-key.pem"), "utf8"), cert: readFileSync(join(TLS_DIR, "localhost-cert.pem"), "utf8") };
    const secure = await startMockUpstream(undefined, tls);
    const chorus = await chorusProcess({
      ...env(),
      LLM_BASE_URL: secure.url,
      HTTPS_PROXY: proxyUrl,
      https_proxy: proxyUrl,
      NO_PROXY: "",
      no_proxy: "",
      NODE_EXTRA_CA_CERTS: join(TLS_DIR, "localhost-cert.pem"),
    });
    try {
      forwarded.length = 0;
      tunnels.length = 0;
      const r = await readSse(`${chorus.url}/api/process`, { message: "Why is the sky blue?", message_id: "egress-3" });
      expect(last(r).event).toBe("done");
      // Every call went through a tunnel to the model server, none as a plain request; it got the key.
      expect(secure.calls).toHaveLength(4);
      expect(secure.calls.every((c) => c.auth === "Bearer sk-egress-test")).toBe(true);
      expect(tunnels.length).toBeGreaterThan(0);
      expect(new Set(tunnels)).toEqual(new Set([new URL(secure.url).host]));
      expect(forwarded).toHaveLength(0);
    } finally {
      await chorus.stop();
      await secure.close();
    }
  });
});
