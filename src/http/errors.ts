// The HTTP side of the error vocabulary: the one table from a request error's code to its status
// (and default Retry-After), and the contract's JSON envelope; 5xx never show internals.
import type { Context } from "hono";
import type { Logger } from "pino";
import { z } from "zod";
import { ApiError, type RequestErrorCode } from "../errors.js";

const STATUS: Record<RequestErrorCode, number> = {
  invalid_json: 400,
  invalid_request: 400,
  unauthorized: 401,
  budget_exceeded: 402,
  not_found: 404,
  run_not_found: 404,
  model_not_found: 404,
  conversation_not_found: 404,
  method_not_allowed: 405,
  message_id_conflict: 409,
  run_finished: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  overloaded: 503,
  shutting_down: 503,
  store_unavailable: 503,
};

/** Seconds a client should wait before retrying, for the codes where a retry will help. */
const RETRY_AFTER_S: Partial<Record<RequestErrorCode, number>> = { overloaded: 1, store_unavailable: 2, shutting_down: 5, rate_limited: 1 };

export const statusOf = (code: RequestErrorCode): number => STATUS[code];

/** Sets the error's headers (its own, else the code's default Retry-After) and returns its status. */
export function applyErrorHeaders(err: ApiError, c: Context): number {
  const retry = RETRY_AFTER_S[err.code];
  if (retry !== undefined && !err.headers?.["Retry-After"]) c.header("Retry-After", String(retry));
  for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
  return STATUS[err.code];
}

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
  return new ApiError("invalid_request", `${first.field}: ${first.message}`, details);
}

export function onError(logger: Logger) {
  return (err: Error, c: Context) => {
    if (err instanceof ApiError) return c.json(errorBody(err.code, err.message, err.details), applyErrorHeaders(err, c) as 400);
    logger.error({ err, path: c.req.path, request_id: c.get("requestId") }, "unhandled error");
    return c.json(errorBody("internal_error", "internal server error"), 500);
  };
}
