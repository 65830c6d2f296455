// The one error vocabulary of Chorus: the contract's codes, used alike by the HTTP layer,
// the run's events, the log lines and the metric labels.
import type { CountedUsage } from "./run/usage.js";

/** Why one agent (or the summarizer) call failed. */
export type CallErrorCode =
  | "upstream_error"
  | "rate_limited"
  | "timeout"
  | "bad_response"
  | "cancelled"
  | "fixture_missing";

/** Why a whole run ended with an `error` event. */
export type RunErrorCode =
  | "all_agents_failed"
  | "not_enough_agents"
  | "summarizer_failed"
  | "cancelled"
  | "shutting_down";

/** Errors answered as JSON before any stream starts. */
export type RequestErrorCode =
  | "invalid_json"
  | "invalid_request"
  | "unauthorized"
  | "not_found"
  | "method_not_allowed"
  | "message_id_conflict"
  | "run_not_found"
  | "model_not_found"
  | "run_finished"
  | "payload_too_large"
  | "unsupported_media_type"
  | "rate_limited"
  | "overloaded"
  | "shutting_down"
  | "store_unavailable"
  | "conversation_not_found"
  | "internal_error";

/** A failed upstream call, already classified; its message is safe to show a client. */
export class CallError extends Error {
  constructor(
    readonly code: CallErrorCode,
    message: string,
    /** What the call had received before it failed: those tokens were paid for all the same. */
    readonly received?: { text: string; usage?: CountedUsage },
  ) {
    super(message);
  }
}

/** A request refused before the stream starts; rendered as `{error:{code,message,details}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: RequestErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}
