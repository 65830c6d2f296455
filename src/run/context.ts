// What every stage of a run shares: the service's dependencies (LLM client, prompts, targets,
// limits), the run's input, its event sink, and its bill (usage and cost, failed calls included).
import type { LimitFunction } from "p-limit";
import { costUsd, roundUsd, type PriceTable } from "../config/prices.js";
import type { Strategy } from "../config/presets.js";
import type { Prompt, Prompts } from "../config/prompts.js";
import type { ChatMessage, CountedUsage, LlmClient } from "../llm/llm-client.js";
import type { UpstreamBudgets } from "../llm/upstream-budget.js";
import type { UpstreamTarget } from "../llm/upstream-target.js";
import type { RunTrace, RunTracer } from "../observability/tracing.js";
import type { Emit } from "./events.js";
import type { CallRecord } from "./outcome.js";
import { addUsage } from "./usage.js";
import type { WaitingRuns } from "./waiting-runs.js";

export interface FanOutSettings {
  /** Whole-call cap (a prompt's timeout_ms overrides it per agent). */
  agentTimeoutMs: number;
  summarizerTimeoutMs: number;
  /** Time to the first token, and the longest silence between tokens, for every call. */
  firstTokenTimeoutMs: number;
  /** The summarizer's own first-token limit: short, with a fallback, it cuts the tail a slow summarizer adds. */
  summarizerFirstTokenTimeoutMs: number;
  stallTimeoutMs: number;
  /** 0 = off. Once passed, with minAgentsOk answers in, the stragglers are cut. */
  fanOutDeadlineMs: number;
  minAgentsOk: number;
  /** MAX_OUTPUT_CHARS: a call whose answer grows past it (code points) is aborted with bad_response. */
  maxOutputChars: number;
  /** The completion bound of a call whose prompt header sets no max_tokens (LLM_MAX_TOKENS). */
  maxTokens: number;
}

export interface FanOutDeps {
  llm: LlmClient;
  prompts: Prompts;
  /** Where each agent's calls go, by agent name. */
  agentTargets: Map<string, UpstreamTarget>;
  /** The summarizer's target, then its fallbacks, in order. */
  summarizerTargets: UpstreamTarget[];
  /** fusion: the judge's target (judge.md's header, else the defaults); absent: the summarizer's. */
  judgeTarget?: UpstreamTarget;
  budgets: UpstreamBudgets;
  /** Bounds upstream calls across all runs (MAX_CONCURRENT_LLM_CALLS). */
  limit: LimitFunction;
  /** Counts the runs waiting for a slot of `limit` (MAX_QUEUED_RUNS). */
  waiting?: WaitingRuns;
  settings: FanOutSettings;
  /** model → USD per 1M tokens; without it no cost_usd is reported. */
  prices?: PriceTable;
  /** Told once per upstream call as it ends (agents, summarizer, fallbacks): for metrics. */
  onCall?: (call: CallRecord) => void;
  /** Opens a span per run and per call (tracing.ts); absent when tracing is off. */
  tracer?: RunTracer;
  /** The preset of a request that names none (DEFAULT_PRESET; default "default"). */
  defaultPreset?: string;
}

export interface FanOutInput {
  messageId: string;
  message: string;
  agents: Prompt[];
  streamAgents: boolean;
  /** Earlier turns of the conversation, oldest first, seen by every agent and the summarizer. */
  history?: ChatMessage[];
  /** Aborted with a RunAbort when the run is cancelled or the server shuts down. */
  signal: AbortSignal;
  /** The run's span, when tracing is on: each call opens its child span. */
  trace?: RunTrace;
  /** How the answers are combined (default summarize). */
  strategy?: Strategy;
  /** Mixture-of-agents rounds (default 1). */
  rounds?: number;
  /** Once the measured spend passes it, no further call starts (budget_exceeded). */
  maxCostUsd?: number;
  /** The preset's limits, over the service's. */
  limits?: Partial<Pick<FanOutSettings, "fanOutDeadlineMs" | "minAgentsOk">>;
}

/** One run's shared state, handed to each stage. */
export interface RunContext {
  deps: FanOutDeps;
  input: FanOutInput;
  emit: Emit;
  /** Adds one call's usage to the run's bill; returns that call's cost when its model has a price. */
  charge(model: string, usage: CountedUsage | undefined): number | undefined;
  /** The run's bill so far, as `done` and `error` carry it. */
  bill(): { usage?: CountedUsage; cost_usd?: number };
  /** True once the measured spend has passed the run's max_cost_usd: no further call may start. */
  overBudget(): boolean;
}

export function createRunContext(deps: FanOutDeps, input: FanOutInput, emit: Emit): RunContext {
  // Everything the run consumed, failed calls included: those tokens were paid for too.
  let spent: CountedUsage | undefined;
  let cost: number | undefined = 0;
  return {
    deps,
    input,
    emit,
    charge(model, usage) {
      if (!usage) return undefined;
      spent = addUsage(spent, usage);
      const c = costUsd(deps.prices, model, usage);
      cost = c === undefined || cost === undefined ? undefined : cost + c;
      return c;
    },
    bill: () => (spent ? { usage: spent, ...(cost !== undefined ? { cost_usd: roundUsd(cost) } : {}) } : {}),
    // An unpriced model never passes: max_cost_usd is refused up front for such a plan.
    overBudget: () => input.maxCostUsd !== undefined && cost !== undefined && cost > input.maxCostUsd,
  };
}
