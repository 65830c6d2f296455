// One guarded upstream call, the unit every stage is built from: the concurrency slot, the
// endpoint's request budget, the whole-call cap, the first-token and stall watchdogs, the run's
// cancellation, usage counting, metrics and the call's trace span.
import type { Prompt } from "../config/prompts.js";
import { CallError } from "../errors.js";
import type { HedgeReport } from "../llm/hedge.js";
import type { ChatMessage, CountedUsage, OnChunk, Usage } from "../llm/llm-client.js";
import type { UpstreamTarget } from "../llm/upstream-target.js";
import type { RunTrace } from "../observability/tracing.js";
import type { FanOutDeps } from "./context.js";
import { since, type CallRecord } from "./outcome.js";
import { codePoints } from "../text/code-points.js";
import { countUsage, withHedge } from "./usage.js";
import type { WaitingRuns } from "./waiting-runs.js";

export interface Call {
  caller: string;
  target: UpstreamTarget;
  prompt: Prompt;
  messages: ChatMessage[];
  timeoutMs: number;
  firstTokenTimeoutMs: number;
  runSignal: AbortSignal;
  /** Aborted with a CallError to cut this call short (the fan-out deadline). */
  cut?: AbortSignal;
  /** Each piece of text as it arrives; absent when the caller only wants the whole text, and then
   * the deltas that arrive in one network read may come joined (one step per read, not per token). */
  onDelta?: (text: string) => void;
  trace?: RunTrace;
}

/**
 * One guarded upstream call. Its clock starts at once: waiting for the endpoint's request
 * budget counts, waiting for a concurrency slot does not. Guards: the whole-call cap, time to
 * first token, and silence between tokens, so a long healthy answer is never cut while a dead
 * connection is noticed in seconds. Throws CallError, carrying what was received before the failure.
 */
export async function guardedCall(deps: FanOutDeps, call: Call): Promise<{ text: string; usage?: CountedUsage }> {
  const { settings } = deps;
  const t0 = performance.now();
  // Out here, not in the slot's closure: a failed call's text and usage are still counted.
  let text = "";
  let upstreamUsage: Usage | undefined;
  let firstTokenMs: number | undefined;
  const span = call.trace?.startCall(call.caller, call.target.model);
  const hedge: HedgeReport = { hedged: false };
  const report = (outcome: CallRecord["outcome"]) => {
    let usage = countUsage(call.messages, text, upstreamUsage);
    if (hedge.hedged) usage = withHedge(usage, call.messages);
    const record: CallRecord = { caller: call.caller, model: call.target.model, outcome, latency_ms: since(t0), first_token_ms: firstTokenMs, usage };
    if (hedge.hedged) record.hedge = hedge.winner ?? "none";
    deps.onCall?.(record);
    span?.end(record);
    return usage;
  };
  // The call's one signal. The run's cancel and the deadline's cut are forwarded into it by
  // listeners removed when the call ends: cheaper than AbortSignal.any on this hot path.
  const guard = new AbortController();
  const signal = guard.signal;
  const trip = (message: string) => guard.abort(new CallError("timeout", message));
  const forward = (from: AbortSignal) => () => guard.abort(from.reason);
  const sources = call.cut ? [call.runSignal, call.cut] : [call.runSignal];
  const forwarders = sources.map((s) => {
    const f = forward(s);
    if (s.aborted) f();
    else s.addEventListener("abort", f, { once: true });
    return f;
  });
  const cap = setTimeout(() => trip(`no complete answer within ${call.timeoutMs} ms`), call.timeoutMs);
  let watchdog: NodeJS.Timeout | undefined;
  let queued: ReturnType<WaitingRuns["enter"]> | undefined;
  const failure = (err: unknown): CallError => {
    if (call.runSignal.aborted) return new CallError("cancelled", "the run was cancelled");
    if (call.cut?.aborted) return call.cut.reason as CallError;
    if (err instanceof CallError && err.code === "rate_limited") return err;
    if (guard.signal.aborted) return guard.signal.reason as CallError;
    return err instanceof CallError ? err : new CallError("upstream_error", "upstream LLM call failed");
  };
  try {
    if (call.target.rpm > 0) await deps.budgets.acquire(call.target, signal);
    // Counted as waiting until a slot is free or the call is given up (p-limit keeps it queued).
    queued = deps.waiting?.enter(call.runSignal);
    if (queued) signal.addEventListener("abort", queued.done, { once: true });
    await deps.limit(async () => {
      queued?.served();
      if (signal.aborted) throw signal.reason;
      watchdog = setTimeout(() => trip(`no first token within ${call.firstTokenTimeoutMs} ms`), call.firstTokenTimeoutMs);
      const req = {
        caller: call.caller,
        model: call.target.model,
        endpoint: call.target,
        messages: call.messages,
        temperature: call.prompt.settings.temperature,
        // Always a bound (LLM_MAX_TOKENS by default): it makes the cost estimate a true ceiling.
        maxTokens: call.prompt.settings.max_tokens ?? settings.maxTokens,
        signal,
        ...(call.onDelta ? {} : { coalesce: true }),
        ...(span ? { headers: span.headers } : {}),
      };
      let started = false;
      const onChunk: OnChunk = (chunk) => {
        if (signal.aborted) return; // the rest of a network read that came after a cut
        if (chunk.type === "usage") {
          upstreamUsage = chunk.usage;
          return;
        }
        if (started) watchdog!.refresh(); // re-arm, not re-create: this runs once per token
        else {
          started = true;
          firstTokenMs = since(t0);
          clearTimeout(watchdog);
          watchdog = setTimeout(() => trip(`no token for ${settings.stallTimeoutMs} ms`), settings.stallTimeoutMs);
        }
        text += chunk.text;
        // MAX_OUTPUT_CHARS bounds what one call may make the run hold, whatever the upstream sends.
        if (text.length > settings.maxOutputChars && codePoints(text) > settings.maxOutputChars) {
          guard.abort(new CallError("bad_response", `the answer passed MAX_OUTPUT_CHARS (${settings.maxOutputChars} characters)`));
          return;
        }
        call.onDelta?.(chunk.text);
      };
      // Hedging (LLM_HEDGE) sends a second attempt when the first token is late; never on an
      // endpoint with a request budget: the extra request would spend what throttles it.
      await (deps.hedger && call.target.rpm <= 0 ? deps.hedger.stream(deps.llm, req, call.target.label, hedge, onChunk) : deps.llm.stream(req, onChunk));
      // A guard that tripped as the answer ended (MAX_OUTPUT_CHARS on its last token) still fails it.
      if (signal.aborted) throw signal.reason;
    });
  } catch (err) {
    const e = failure(err);
    // A fresh error: `e` may be shared (the fan-out deadline's reason cuts several calls).
    throw new CallError(e.code, e.message, { text, usage: report(e.code) });
  } finally {
    clearTimeout(cap);
    clearTimeout(watchdog);
    if (queued) {
      queued.done();
      signal.removeEventListener("abort", queued.done);
    }
    sources.forEach((s, i) => s.removeEventListener("abort", forwarders[i]!));
  }
  return { text, usage: report("ok") };
}
