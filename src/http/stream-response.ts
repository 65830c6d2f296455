// Glue for responses that a route writes straight onto Node's socket (SSE streams, see
// sse-writer.ts), bypassing Hono's Response: which headers they take, and keeping Hono and
// @hono/node-server from answering a second time once they are done.
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context, MiddlewareHandler } from "hono";

/** The headers set on the context so far (request id, RateLimit-*, CORS, nosniff), for writeSse. */
export function headersSoFar(c: Context): Record<string, string> {
  return Object.fromEntries(c.res.headers);
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
