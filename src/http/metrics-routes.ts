// The HTTP side of the metrics: a middleware counting every request by its matched route
// pattern (bounded cardinality, whatever paths clients invent) and the 429/503 refusals, and
// GET /metrics, closed with METRICS_TOKEN (Bearer) when that is set.
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { ApiError } from "../errors.js";
import type { Metrics } from "../observability/metrics.js";
import type { AppEnv } from "./app-env.js";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * The pattern of the route that answered: "/api/process/:message_id/events", not the path.
 * A refusal by a prefix middleware keeps its pattern ("/api/*"); no route at all is "unmatched".
 */
function routeLabel(c: Context, status: number): string {
  const route = matchedRoutes(c)[c.req.routeIndex];
  if (!route || route.path === "*" || route.path === "/*") return "unmatched";
  if (route.method === "ALL" && status === 404) return "unmatched"; // fell through a prefix middleware
  return route.path;
}

/** Registered first: it sees every response, also those made by onError and notFound. */
export function countRequests(metrics: Metrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const status = c.res.status;
    const method = METHODS.has(c.req.method) ? c.req.method : "other";
    metrics.request(method, routeLabel(c, status), status);
    if ((status === 429 || status === 503) && c.error instanceof ApiError) metrics.rejected(c.error.code);
  };
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** GET /metrics in Prometheus text format; with a token, only for `Authorization: Bearer <token>`. */
export function metricsRoutes(metrics: Metrics, token: string | undefined) {
  const expected = token ? digest(token) : undefined;
  const app = new Hono<AppEnv>();
  app.get("/metrics", async (c) => {
    if (expected) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
      // Digests have equal length, so timingSafeEqual never throws and leaks nothing about the token.
      if (!m || !timingSafeEqual(digest(m[1]!), expected)) {
        throw new ApiError("unauthorized", "a valid metrics token is required (Authorization: Bearer <METRICS_TOKEN>)", undefined, {
          "WWW-Authenticate": "Bearer",
        });
      }
    }
    return c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType });
  });
  return app;
}
