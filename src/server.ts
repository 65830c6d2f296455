// Serves a Chorus app on Node's HTTP server, with a graceful drain for shutdown.
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import type { Chorus } from "./app.js";

export interface RunningServer {
  server: Server;
  url: string;
  /** Stops accepting, lets runs finish up to graceMs, ends the rest with `shutting_down`, closes. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startServer(chorus: Chorus, host: string | undefined, port: number): Promise<RunningServer> {
  // Serve even if Redis is not up yet: /ready says so, and ioredis keeps reconnecting.
  await chorus.connect(5000);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: chorus.app.fetch, hostname: host, port }) as Server;
    // Long SSE responses are never cut: these bound only receiving a request and idle keep-alive sockets.
    server.requestTimeout = 30_000;
    server.headersTimeout = 20_000;
    server.keepAliveTimeout = 5_000;
    server.once("error", reject);
    server.once("listening", () => {
      const a = server.address() as AddressInfo;
      const h = a.family === "IPv6" ? `[${a.address}]` : a.address;
      resolve({
        server,
        url: `http://${h === "[::]" || h === "0.0.0.0" ? "127.0.0.1" : h}:${a.port}`,
        async shutdown(graceMs) {
          chorus.state.draining = true;
          const closed = new Promise<void>((r) => server.close(() => r()));
          server.closeIdleConnections();
          await chorus.registry.drain(graceMs);
          // Give the final `error` events a moment to be written, then cut what is left.
          await new Promise((r) => setTimeout(r, 50));
          server.closeAllConnections();
          await closed;
          chorus.close();
        },
      });
    });
  });
}
