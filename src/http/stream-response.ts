// Glue for responses that a route writes straight onto Node's socket (SSE streams, see
// sse-writer.ts), bypassing Hono's Response: which headers they take, and keeping Hono and
// @hono/node-server from answering a second time once they are done.
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env.js";
import { writeSse, type PushSource, type SseOptions, type SseSource } from "./sse-writer.js";

/** The headers set on the context so far (request id, RateLimit-*, CORS, nosniff), for writeSse. */
export function headersSoFar(c: Context): Record<string, string> {
  return Object.fromEntries(c.res.headers);
}

/**
 * Starts an SSE stream (its headers go out now) and returns at once: the route and the
 * middleware around it are done, instead of each holding a suspended frame for the stream's
 * life (ten of an open stream's 37 in the benchmark's heap snapshot). `ended` runs once the stream has.
 */
export function sendSse(
  c: Context<AppEnv>,
  source: SseSource | PushSource,
  opts: Omit<SseOptions, "headers">,
  ended: () => void,
  headers: Record<string, string> = {},
): Response {
  const res = c.env.outgoing;
  writeSse(res, source, { ...opts, headers: { ...headersSoFar(c), ...headers } })
    .catch(() => res.destroy()) // a write that threw: the stream cannot go on
    .finally(ended);
  return RESPONSE_ALREADY_SENT;
}

/**
 * Registered first, so it runs last. A middleware that adds a header after a stream has been
 * sent (CORS adds Vary; the request id) makes Hono copy the response, and node-server writes
 * such a copy out again (ERR_HTTP_HEADERS_SENT): hand node-server back its own marker.
 */
export function streamsStaySent(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.res !== RESPONSE_ALREADY_SENT && c.res.headers.has("x-hono-already-sent")) {
      c.res = undefined; // so that the next assignment is taken as is, not merged into a copy
      c.res = RESPONSE_ALREADY_SENT;
    }
  };
}
