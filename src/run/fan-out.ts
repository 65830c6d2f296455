// One run: the stages in order (agents, then the summary), each in its own module, and the one
// terminal event. Knows nothing of HTTP: it only emits the contract's events into a sink (the
// run's event log). A new stage is a new function beside runAgents and runSummary.
import type { RunErrorCode } from "../errors.js";
import { runAgents } from "./agents-stage.js";
import { createRunContext, type FanOutDeps, type FanOutInput } from "./context.js";
import type { Emit } from "./events.js";
import { RunAbort, since, type AgentResult, type RunOutcome, type SummarizerOutcome } from "./outcome.js";
import { runSummary } from "./summary-stage.js";
import { summarizerUserMessage } from "./summarizer-prompt.js";
import { resumeAgents, type Resume } from "./takeover.js";

export type { FanOutDeps, FanOutInput, FanOutSettings } from "./context.js";

/**
 * Runs the whole fan-out, emitting events; the last one emitted is `done` or `error`.
 * `resume`: carrying on a run another replica died holding (takeover.ts).
 */
export async function runFanOut(deps: FanOutDeps, input: FanOutInput, emit: Emit, resume?: Resume): Promise<RunOutcome> {
  const t0 = performance.now();
  const ctx = createRunContext(deps, input, emit);
  let summarizer: SummarizerOutcome | undefined;
  const fail = (code: RunErrorCode, message: string, agents: AgentResult[], outputs?: Record<string, string>): RunOutcome => {
    emit("error", { code, message, ...(outputs ? { outputs } : {}) });
    return { status: "error", code, agents, summarizer, ...ctx.bill(), latency_ms: since(t0) };
  };
  const aborted = (agents: AgentResult[]) => {
    const reason = input.signal.reason;
    return fail(reason instanceof RunAbort ? reason.code : "cancelled", (reason as Error).message, agents);
  };

  if (!resume?.started) emit("start", { message_id: input.messageId, agents: input.agents.map((a) => a.name) });
  const results = resume ? await resumeAgents(ctx, resume) : await runAgents(ctx);
  if (input.signal.aborted) return aborted(results);

  const ok = results.filter((r) => r.status === "ok");
  if (ok.length === 0) return fail("all_agents_failed", "every agent failed; no summary was made", results);
  if (ok.length < deps.settings.minAgentsOk) {
    return fail("not_enough_agents", `${ok.length} agent(s) answered, ${deps.settings.minAgentsOk} needed for a summary`, results);
  }

  if (resume?.summaryStarted) {
    emit("summary_restart", { reason: { code: "upstream_error", message: "the replica writing the summary went away; it starts over" } });
  }
  const summary = await runSummary(ctx, summarizerUserMessage(input.message, results));
  summarizer = summary.outcome;
  if (summary.text === undefined) {
    if (input.signal.aborted) return aborted(results);
    // The agents' outputs were paid for: hand them over even though no summary came.
    const outputs = Object.fromEntries(ok.map((r) => [r.agent, r.status === "ok" ? r.output : ""]));
    return fail("summarizer_failed", `the summarizer failed: ${summary.error!.message}`, results, outputs);
  }

  const status = ok.length === results.length ? "ok" : "partial";
  const latency_ms = since(t0);
  emit("done", {
    message_id: input.messageId,
    status,
    agents: { ok: ok.length, failed: results.length - ok.length },
    summary: summary.text,
    ...ctx.bill(),
    latency_ms,
  });
  return { status, agents: results, summarizer, ...ctx.bill(), latency_ms };
}
