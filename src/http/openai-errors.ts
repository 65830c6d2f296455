// /v1/* speaks OpenAI's error shape, `{error:{message,type,param,code}}`, so that OpenAI
// clients raise their usual errors; `code` stays the contract's code. Also maps a run's
// `error` event to a status for the non-streaming chat completion.
import type { Context } from "hono";
import type { Logger } from "pino";
import { ApiError } from "../errors.js";
import { applyErrorHeaders } from "./errors.js";

export const isOpenAiPath = (path: string) => path === "/v1" || path.startsWith("/v1/");

/** OpenAI's error `type` for a status; its SDK picks the exception class from the status alone. */
function errorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export function openAiErrorBody(status: number, code: string, message: string, param: string | null = null) {
  return { error: { message, type: errorType(status), param, code } };
}

/** The field named by an invalid_request's first detail, as OpenAI's `param`. */
function paramOf(err: ApiError): string | null {
  const first = Array.isArray(err.details) ? (err.details[0] as { field?: unknown } | undefined) : undefined;
  return typeof first?.field === "string" && first.field !== "(body)" ? first.field : null;
}

export function openAiOnError(logger: Logger) {
  return (err: Error, c: Context) => {
    if (err instanceof ApiError) {
      const status = applyErrorHeaders(err, c);
      return c.json(openAiErrorBody(status, err.code, err.message, paramOf(err)), status as 400);
    }
    logger.error({ err, path: c.req.path, request_id: c.get("requestId") }, "unhandled error");
    return c.json(openAiErrorBody(500, "internal_error", "internal server error"), 500);
  };
}

export function openAiNotFound(c: Context) {
  return c.json(openAiErrorBody(404, "not_found", `no route for ${c.req.method} ${c.req.path}`), 404);
}

/**
 * The status a non-streaming completion answers when its run ended with an `error` event.
 * Failed upstreams are a bad gateway. `retry` is false where Chorus already retried each
 * upstream call, so that the SDK's own retries do not multiply a whole fan-out.
 */
export function runErrorStatus(code: string): { status: number; retry: boolean } {
  switch (code) {
    case "shutting_down":
      return { status: 503, retry: true }; // another replica (or this one, restarted) can take it
    case "cancelled":
      return { status: 409, retry: false }; // cancelled on purpose (DELETE /api/process/{id})
    case "internal_error":
      return { status: 500, retry: false };
    case "budget_exceeded":
      return { status: 402, retry: false }; // the measured spend passed max_cost_usd: retrying costs as much again
    default: // all_agents_failed, not_enough_agents, summarizer_failed
      return { status: 502, retry: false };
  }
}
