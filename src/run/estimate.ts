// The worst-case cost of a plan, before any call (API.md "Cost"): for every call the plan can
// make (agents × rounds, the reviews or the judge, the summarizer; fallbacks not counted) the
// prompt tokens (its messages' characters ÷ 4, rounded up, where each earlier answer it holds is
// counted at its call's completion bound) plus its completion bound, priced per model. Chorus
// sends every call's bound upstream as max_tokens, so the measured cost stays under it.
import type { Prompt } from "../config/prompts.js";
import type { ChatMessage } from "../llm/llm-client.js";
import type { FanOutDeps } from "./context.js";
import type { RunPlan } from "./plan.js";
import { judgeUserMessage, reviewLabel, reviewUserMessage, roundUserMessage } from "./stage-messages.js";
import { summarizerUserMessage } from "./summarizer-prompt.js";

export interface Estimate {
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** null when some model of the plan has no price. */
  cost_usd: number | null;
  /** The models without a price. */
  unpriced: string[];
}

const chars = (messages: ChatMessage[]) => messages.reduce((n, m) => n + m.content.length, 0);

export function estimateRun(deps: FanOutDeps, plan: RunPlan, message: string, history: ChatMessage[] = []): Estimate {
  const { prompts, settings } = deps;
  const bound = (p: Prompt) => p.settings.max_tokens ?? settings.maxTokens;
  const est: Estimate = { calls: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, unpriced: [] };
  const add = (model: string, promptTokens: number, completion: number) => {
    est.calls++;
    est.prompt_tokens += promptTokens;
    est.completion_tokens += completion;
    const price = deps.prices?.[model];
    if (!price) {
      if (!est.unpriced.includes(model)) est.unpriced.push(model);
      est.cost_usd = null;
    } else if (est.cost_usd !== null) est.cost_usd += (promptTokens * price.input_per_1m + completion * price.output_per_1m) / 1_000_000;
  };
  // A call whose text holds earlier answers: the text without them, plus each answer at its bound.
  const call = (model: string, fixed: ChatMessage[], answerBounds: number, completion: number) =>
    add(model, Math.ceil(chars(fixed) / 4) + answerBounds, completion);
  const modelOf = (agent: Prompt) => deps.agentTargets.get(agent.name)?.model ?? "";
  const empty = plan.agents.map((a) => ({ label: a.name, text: "" }));
  const allAnswers = plan.agents.reduce((n, a) => n + bound(a), 0);

  for (let round = 1; round <= plan.rounds; round++) {
    for (const agent of plan.agents) {
      const user = round === 1 ? message : roundUserMessage(message, round, empty);
      call(modelOf(agent), [{ role: "system", content: agent.system }, ...history, { role: "user", content: user }], round === 1 ? 0 : allAnswers, bound(agent));
    }
  }
  const several = plan.agents.length >= 2;
  if (plan.strategy === "council" && several) {
    const labelled = plan.agents.map((_, i) => ({ label: reviewLabel(i), text: "" }));
    for (const agent of plan.agents) {
      call(modelOf(agent), [{ role: "system", content: prompts.review.system }, { role: "user", content: reviewUserMessage(message, labelled) }], allAnswers, bound(prompts.review));
    }
  }
  const judgeModel = (deps.judgeTarget ?? deps.summarizerTargets[0]!).model;
  if (plan.strategy === "fusion" && several) {
    call(judgeModel, [{ role: "system", content: prompts.judge.system }, { role: "user", content: judgeUserMessage(message, empty) }], allAnswers, bound(prompts.judge));
  }
  // The summarizer's message at its longest: every answer, ranking lines, the analysis (at the
  // judge's bound), and the notes of a degraded result.
  const ok = plan.agents.map((a) => ({ agent: a.name, status: "ok" as const, output: "", latency_ms: 0 }));
  const ranking = plan.strategy === "council" ? plan.agents.map((a) => ({ agent: a.name, score: 0.5555, reviews: 99 })) : undefined;
  const skipped = ["review: no review could be used", "judge: the judge's analysis failed"];
  const failedNote = plan.agents.map((a) => `- ${a.name}: fixture_missing\n`).join("");
  const analysisHeader = plan.strategy === "fusion" ? "## The judge's analysis of the answers\n\nName the contradictions and who holds which position; do not flatten them.\n\n```json\n\n```" : "";
  const user = summarizerUserMessage(message, ok, { ...(ranking ? { ranking } : {}), skipped }) + failedNote + analysisHeader;
  const judged = plan.strategy === "fusion" && several ? bound(prompts.judge) : 0;
  call(deps.summarizerTargets[0]!.model, [{ role: "system", content: prompts.summarizer.system }, ...history, { role: "user", content: user }], allAnswers + judged, bound(prompts.summarizer));
  if (est.cost_usd !== null) est.cost_usd = Math.round(est.cost_usd * 1e8) / 1e8;
  return est;
}
