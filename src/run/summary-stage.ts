// The summary stage: the summarizer streams its answer over the surviving agents' outputs;
// its fallbacks are tried in order. One that fails after streaming tokens is replaced too: the
// stream gets summary_restart (the client drops the text so far) and the next one starts over.
import type { CallError } from "../errors.js";
import type { ChatMessage } from "../llm/llm-client.js";
import type { RunContext } from "./context.js";
import { guardedCall } from "./guarded-call.js";
import { since, type SummarizerOutcome } from "./outcome.js";

export interface SummaryResult {
  /** The summary, absent when every summarizer failed. */
  text?: string;
  outcome: SummarizerOutcome;
  /** The last failure, when there is no summary. */
  error?: CallError;
}

/** Streams summary_delta events from the first summarizer target that answers. */
export async function runSummary(ctx: RunContext, userMessage: string): Promise<SummaryResult> {
  const { deps, input, emit } = ctx;
  const summarizer = deps.prompts.summarizer;
  const messages: ChatMessage[] = [{ role: "system", content: summarizer.system }, ...(input.history ?? []), { role: "user", content: userMessage }];
  let last: SummaryResult | undefined;
  for (const target of deps.summarizerTargets) {
    if (last?.outcome.first_token_ms !== undefined) {
      emit("summary_restart", { reason: { code: last.error!.code, message: last.error!.message } });
    }
    const s0 = performance.now();
    let firstToken: number | undefined;
    try {
      const { text, usage } = await guardedCall(deps, {
        caller: "summarizer",
        target,
        prompt: summarizer,
        messages,
        timeoutMs: summarizer.settings.timeout_ms ?? deps.settings.summarizerTimeoutMs,
        firstTokenTimeoutMs: deps.settings.summarizerFirstTokenTimeoutMs,
        runSignal: input.signal,
        trace: input.trace,
        onDelta: (delta) => {
          firstToken ??= since(s0);
          emit("summary_delta", { delta });
        },
      });
      ctx.charge(target.model, usage);
      return { text, outcome: { ok: true, model: target.model, latency_ms: since(s0), first_token_ms: firstToken, usage } };
    } catch (err) {
      const error = err as CallError;
      const usage = error.received?.usage;
      ctx.charge(target.model, usage);
      last = { error, outcome: { ok: false, code: error.code, model: target.model, latency_ms: since(s0), first_token_ms: firstToken, usage } };
      if (input.signal.aborted) break;
    }
  }
  return last!;
}
