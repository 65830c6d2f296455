// 405 for a known path asked with another method (GET /api/process), with the `Allow` header
// listing the methods it takes; an unknown path stays a 404. Registered after every route: it
// reads the app's own route table, so a route added later is covered without a list to update.
import type { Hono, MiddlewareHandler } from "hono";
import { PatternRouter } from "hono/router/pattern-router";
import { ApiError } from "../errors.js";
import type { AppEnv } from "./app-env.js";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

export function methodNotAllowed(app: Hono<AppEnv>): MiddlewareHandler<AppEnv> {
  let router: PatternRouter<true> | undefined;
  // Built at the first unmatched request, when every route is registered.
  const routes = () => {
    if (router) return router;
    router = new PatternRouter<true>();
    for (const r of app.routes) if (METHODS.includes(r.method)) router.add(r.method, r.path, true);
    return router;
  };
  return async (c, next) => {
    const allowed = METHODS.filter((m) => routes().match(m, c.req.path)[0].length > 0);
    if (!allowed.length || allowed.includes(c.req.method)) return next();
    if (allowed.includes("GET")) allowed.splice(1, 0, "HEAD");
    throw new ApiError("method_not_allowed", `${c.req.path} takes ${allowed.join(", ")}, not ${c.req.method}`, undefined, {
      Allow: allowed.join(", "),
    });
  };
}
