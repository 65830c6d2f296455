// What browsers are told: Hono's secureHeaders on every response, and CORS for /api/* and /v1/*
// only when CORS_ORIGINS names the origins allowed (off by default: the web page is same-origin).
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { REQUEST_ID_HEADER } from "./request-id.js";

/**
 * secureHeaders' defaults: nosniff, frame and opener policies, HSTS, no referrer… No CSP here:
 * the two HTML pages (/ and /docs) send their own, each fitted to what it loads, and JSON and
 * SSE are never rendered (nosniff). `overwrite: false` keeps whatever a route set itself.
 */
export function securityHeaders(): MiddlewareHandler {
  const secure = secureHeaders({ overwrite: false });
  return async (c, next) => {
    // secureHeaders adds its set after the response is made; an SSE stream has gone out by
    // then with the headers known before it started (see headersSoFar): give it this one.
    c.header("X-Content-Type-Options", "nosniff");
    return secure(c, next);
  };
}

/** CORS for the listed origins (or "*"): the headers a client sends and may read back. */
export function corsFor(origins: string[]): MiddlewareHandler {
  return cors({
    origin: origins.includes("*") ? "*" : origins,
    allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
    allowHeaders: ["Authorization", "Content-Type", "Last-Event-ID", REQUEST_ID_HEADER],
    exposeHeaders: ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After", REQUEST_ID_HEADER, "X-Chorus-Message-Id"],
    maxAge: 600,
  });
}
