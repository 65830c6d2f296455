// The one error vocabulary of Chorus: the contract's codes, used alike by the HTTP layer,
// the run's events, the log lines and the metric labels. Each list feeds a z.enum (run/events.ts,
// http/openapi.ts); the HTTP status of a request error is chosen in one table (http/errors.ts).
import type { CountedUsage } from "./llm/llm-client.js";

/** Why one upstream call (an agent, a reviewer, the judge or the summarizer) failed. */
export const CALL_ERROR_CODES = ["upstream_error", "rate_limited", "timeout", "bad_response", "cancelled", "fixture_missing"] as const;
export type CallErrorCode = (typeof CALL_ERROR_CODES)[number];

/** Why a whole run ended with an `error` event. `internal_error`: the orchestration crashed (a bug). */
export const RUN_ERROR_CODES = [
  "all_agents_failed",
  "not_enough_agents",
  "summarizer_failed",
  "cancelled",
  "shutting_down",
  "budget_exceeded",
  "internal_error",
] as const;
export type RunErrorCode = (typeof RUN_ERROR_CODES)[number];

/** Errors answered as JSON before any stream starts. */
export const REQUEST_ERROR_CODES = [
  "invalid_json",
  "invalid_request",
  "unauthorized",
  "budget_exceeded",
  "not_found",
  "method_not_allowed",
  "message_id_conflict",
  "run_not_found",
  "model_not_found",
  "run_finished",
  "payload_too_large",
  "unsupported_media_type",
  "rate_limited",
  "overloaded",
  "shutting_down",
  "store_unavailable",
  "conversation_not_found",
  "internal_error",
] as const;
export type RequestErrorCode = (typeof REQUEST_ERROR_CODES)[number];

/**
 * A failed upstream call, already classified; its message is safe to show a client. An outcome,
 * not a bug: it carries no stack trace, whose capture (twice per call) showed in the profile of a
 * mass cancel, 2,000 clients leaving at once.
 */
export class CallError extends Error {
  constructor(
    readonly code: CallErrorCode,
    message: string,
    /** What the call had received before it failed: those tokens were paid for all the same. */
    readonly received?: { text: string; usage?: CountedUsage },
  ) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
  }
}

/**
 * A request refused before the stream starts; rendered as `{error:{code,message,details}}` with
 * the status its code maps to (http/errors.ts). Thrown by any layer: only the HTTP side knows statuses.
 */
export class ApiError extends Error {
  constructor(
    readonly code: RequestErrorCode,
    message: string,
    readonly details?: unknown,
    /** Extra response headers (Retry-After, WWW-Authenticate, rate-limit headers). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

/** The shared store (Redis) cannot be reached: the client should retry shortly. */
export const storeUnavailable = () => new ApiError("store_unavailable", "the shared store (Redis) is unreachable; retry shortly");

/** Too many runs wait for upstream capacity. */
export const overloaded = () => new ApiError("overloaded", "too many runs are waiting for upstream capacity; retry shortly");
