// One run: the stages in order (the agents, once per round; the council's reviews or the fusion
// judge; the summary), each in its own module, and the one terminal event. Knows nothing of HTTP:
// it only emits the contract's events into a sink (the run's event log). A new stage is a new
// function beside runAgents and runSummary.
import type { RunErrorCode } from "../errors.js";
import { runAgents } from "./agents-stage.js";
import { runJudge, type Analysis } from "./judge-stage.js";
import { runReviews, type RankingEntry } from "./review-stage.js";
import { roundUserMessage } from "./stage-messages.js";
import { createRunContext, type FanOutDeps, type FanOutInput } from "./context.js";
import type { Emit } from "./events.js";
import { RunAbort, since, type AgentResult, type RunOutcome, type SummarizerOutcome } from "./outcome.js";
import { runSummary } from "./summary-stage.js";
import { summarizerUserMessage } from "./summarizer-prompt.js";
import { resumeRound, takeoverRerun, type Resume } from "./takeover.js";

export type { FanOutDeps, FanOutInput, FanOutSettings } from "./context.js";

/**
 * Runs the whole fan-out, emitting events; the last one emitted is `done` or `error`.
 * `resume`: carrying on a run another replica died holding (takeover.ts).
 */
export async function runFanOut(serviceDeps: FanOutDeps, input: FanOutInput, emit: Emit, resume?: Resume): Promise<RunOutcome> {
  const t0 = performance.now();
  // A preset's limits (fan-out deadline, MIN_AGENTS_OK) over the service's.
  const deps = input.limits ? { ...serviceDeps, settings: { ...serviceDeps.settings, ...input.limits } } : serviceDeps;
  const strategy = input.strategy ?? "summarize";
  const rounds = input.rounds ?? 1;
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
  const outputsOf = (results: AgentResult[]) => Object.fromEntries(results.flatMap((r) => (r.status === "ok" ? [[r.agent, r.output]] : [])));
  // The measured spend passed max_cost_usd: no further call starts; the answers paid for are handed over.
  const overBudget = (results: AgentResult[]) =>
    fail("budget_exceeded", `the run's measured cost passed max_cost_usd (${input.maxCostUsd} USD); no further call was started`, results, outputsOf(results));

  if (!resume?.started) emit("start", { message_id: input.messageId, agents: input.agents.map((a) => a.name) });
  if (resume) emit("takeover", { rerun: takeoverRerun(resume, input.agents, rounds) });
  let results: AgentResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    const previous = results.flatMap((r) => (r.status === "ok" ? [{ label: r.agent, text: r.output }] : []));
    const message = round === 1 ? input.message : roundUserMessage(input.message, round, previous);
    const label = rounds > 1 ? round : undefined;
    results = resume ? await resumeRound(ctx, resume, message, round, label) : await runAgents(ctx, message, label);
    if (input.signal.aborted) return aborted(results);
    if (!results.some((r) => r.status === "ok")) {
      return fail("all_agents_failed", rounds > 1 ? `every agent failed in round ${round}; no summary was made` : "every agent failed; no summary was made", results);
    }
    if (ctx.overBudget()) return overBudget(results);
  }

  const ok = results.filter((r) => r.status === "ok");
  if (ok.length < deps.settings.minAgentsOk) {
    return fail("not_enough_agents", `${ok.length} agent(s) answered, ${deps.settings.minAgentsOk} needed for a summary`, results);
  }

  // The combining stage; with fewer than two answers there is nothing to compare.
  const answers = ok.map((r) => ({ agent: r.agent, output: r.status === "ok" ? r.output : "" }));
  const skipped: string[] = [];
  let ranking: RankingEntry[] | undefined;
  let analysis: Analysis | undefined;
  if (strategy === "council") {
    if (answers.length < 2) skipped.push("review: fewer than two answers to compare");
    else {
      ranking = (await runReviews(ctx, answers))?.ranking;
      if (input.signal.aborted) return aborted(results);
      if (!ranking) skipped.push("review: no review could be used");
    }
  } else if (strategy === "fusion") {
    if (answers.length < 2) skipped.push("judge: fewer than two answers to compare");
    else {
      analysis = await runJudge(ctx, answers);
      if (input.signal.aborted) return aborted(results);
      if (!analysis) skipped.push("judge: the judge's analysis failed");
    }
  }
  if (ctx.overBudget()) return overBudget(results);

  if (resume?.summaryStarted) {
    emit("summary_restart", { reason: { code: "upstream_error", message: "the replica writing the summary went away; it starts over" } });
  }
  const summary = await runSummary(ctx, summarizerUserMessage(input.message, results, { ranking, analysis, skipped }));
  summarizer = summary.outcome;
  if (summary.text === undefined) {
    if (input.signal.aborted) return aborted(results);
    // The agents' outputs were paid for: hand them over even though no summary came.
    return fail("summarizer_failed", `the summarizer failed: ${summary.error!.message}`, results, outputsOf(results));
  }

  const status = ok.length === results.length ? "ok" : "partial";
  const latency_ms = since(t0);
  const failedAgents = results.filter((r) => r.status !== "ok").map((r) => r.agent);
  emit("done", {
    message_id: input.messageId,
    status,
    strategy,
    agents: { ok: ok.length, failed: results.length - ok.length },
    summary: summary.text,
    ...ctx.bill(),
    ...(ranking ? { ranking } : {}),
    ...(analysis ? { analysis } : {}),
    ...(failedAgents.length || skipped.length ? { degraded: { failed_agents: failedAgents, skipped: skipped.map((s) => s.split(":")[0]!) } } : {}),
    latency_ms,
  });
  return { status, agents: results, summarizer, ...ctx.bill(), latency_ms };
}
