// Turns whatever an upstream call threw into a CallError with one of the contract's codes.
// Messages are our own words plus a status: raw upstream bodies may carry secrets or prompt text.
import { APIConnectionTimeoutError, APIError } from "openai";
import { CallError } from "../errors.js";

export function classifyError(err: unknown): CallError {
  if (err instanceof CallError) return err;
  if (err instanceof APIConnectionTimeoutError) return new CallError("timeout", "upstream did not answer in time");
  if (err instanceof APIError) {
    const s = err.status;
    if (s === undefined) return new CallError("upstream_error", "could not reach the upstream LLM");
    if (s === 429) return new CallError("rate_limited", "upstream LLM rate limit (429)");
    if (s === 408 || s === 504) return new CallError("timeout", `upstream LLM timed out (${s})`);
    if (s === 401 || s === 403) return new CallError("upstream_error", `upstream LLM refused the credentials (${s})`);
    return new CallError("upstream_error", `upstream LLM answered ${s}`);
  }
  if (err instanceof SyntaxError) return new CallError("bad_response", "upstream LLM sent a malformed stream chunk");
  return new CallError("upstream_error", "upstream LLM connection failed");
}
