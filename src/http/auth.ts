// API_KEYS: when set, /api/* and /v1/* need `Authorization: Bearer <key>`. Keys are compared
// as SHA-256 digests with timingSafeEqual, and only a short hash of a key is ever logged.
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env.js";
import { ApiError } from "../errors.js";

const digest = (s: string) => createHash("sha256").update(s).digest();

/** A short, non-reversible name for a key: for logs and rate-limit buckets. */
export const keyId = (key: string) => digest(key).toString("hex").slice(0, 12);

export function requireApiKey(keys: string[]): MiddlewareHandler<AppEnv> {
  const digests = keys.map(digest);
  return async (c, next) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
    const given = m ? digest(m[1]!) : undefined;
    // Compare against every key so the time taken says nothing about which one matched.
    const ok = given !== undefined && digests.reduce((hit, d) => timingSafeEqual(d, given) || hit, false);
    if (!ok) {
      throw new ApiError("unauthorized", "a valid API key is required (Authorization: Bearer <key>)", undefined, {
        "WWW-Authenticate": "Bearer",
      });
    }
    c.set("apiKeyId", keyId(m![1]!));
    await next();
  };
}
