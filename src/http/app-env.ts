// The Hono environment every route shares: Node's request/response, and what middleware learned.
import type { HttpBindings } from "@hono/node-server";

export type AppEnv = {
  Bindings: HttpBindings;
  Variables: {
    /** Short hash of the caller's API key, when keys are configured. */
    apiKeyId: string;
    /** Who the caller is for budgets: the API key's id, else the client IP. */
    clientKey: string;
    /** RateLimit-* headers: a stream writes them itself, since it bypasses Hono's response. */
    rateLimitHeaders: Record<string, string>;
    /** X-Request-Id: the client's when safe, else generated; on every log line of the runs it starts. */
    requestId: string;
  };
};
