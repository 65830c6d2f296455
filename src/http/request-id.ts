// X-Request-Id: taken from the client (or the proxy in front) when it is a short id of safe
// characters, else generated; set on the context for the run's log lines and echoed on the
// response, streams included (they take their headers from the context before they start).
import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env.js";

export const REQUEST_ID_HEADER = "X-Request-Id";

/** What a client-sent id may look like: UUIDs, trace ids, ULIDs. Anything else could forge log lines. */
const SAFE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function requestId(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const given = c.req.header(REQUEST_ID_HEADER);
    const id = given !== undefined && SAFE_ID.test(given) ? given : randomUUID();
    c.set("requestId", id);
    c.header(REQUEST_ID_HEADER, id); // before next: a stream writes the headers known so far
    await next();
    // Again after: a handler that returned a Response of its own dropped the prepared headers.
    if (c.res.headers.get(REQUEST_ID_HEADER) !== id) c.header(REQUEST_ID_HEADER, id);
  };
}

