// Renders every refusal as the contract's JSON envelope; 5xx never show internals.
import type { Context } from "hono";
import type { Logger } from "pino";
import { z } from "zod";
import { ApiError } from "../errors.js";

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

/**
 * Maps zod issues to `details`, one per field, and a message naming the first. `source` names
 * what was parsed when it is not the JSON body (a header such as Last-Event-ID, a query field).
 */
export function invalidRequest(error: z.ZodError, source?: { name: string; in: "header" | "query" }): ApiError {
  const details = error.issues.map((i) => ({
    field: [source?.name, ...i.path].filter((x) => x !== undefined).join(".") || "(body)",
    message: i.message,
    ...(source ? { in: source.in } : {}),
  }));
  const first = details[0]!;
  return new ApiError(400, "invalid_request", `${first.field}: ${first.message}`, details);
}

export function onError(logger: Logger) {
  return (err: Error, c: Context) => {
    if (err instanceof ApiError) {
      for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
      return c.json(errorBody(err.code, err.message, err.details), err.status as 400);
    }
    logger.error({ err, path: c.req.path, request_id: c.get("requestId") }, "unhandled error");
    return c.json(errorBody("internal_error", "internal server error"), 500);
  };
}
