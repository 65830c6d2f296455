// Charges one point per request to the caller's budget (rate-limiter-flexible) and sets the
// RateLimit-* headers; a spent budget is a 429 with Retry-After in whole seconds (at least 1).
import type { MiddlewareHandler } from "hono";
import { RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { ApiError } from "../errors.js";
import type { AppEnv } from "./app-env.js";

export function rateLimit(limiter: RateLimiterAbstract, keyOf: (c: Parameters<MiddlewareHandler<AppEnv>>[0]) => string): MiddlewareHandler<AppEnv> {
  const headers = (res: RateLimiterRes) => ({
    "RateLimit-Limit": String(limiter.points),
    "RateLimit-Remaining": String(Math.max(0, res.remainingPoints)),
    "RateLimit-Reset": String(Math.ceil(res.msBeforeNext / 1000)),
  });
  return async (c, next) => {
    let res: RateLimiterRes;
    try {
      res = await limiter.consume(keyOf(c));
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e; // the store failed: not the caller's fault
      const retryAfter = String(Math.max(1, Math.ceil(e.msBeforeNext / 1000)));
      throw new ApiError("rate_limited", `rate limit reached; retry in ${retryAfter} s`, undefined, {
        ...headers(e),
        "Retry-After": retryAfter,
      });
    }
    const h = headers(res);
    c.set("rateLimitHeaders", h);
    for (const [k, v] of Object.entries(h)) c.header(k, v);
    await next();
  };
}
