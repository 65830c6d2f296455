// The records a run produces, on the lowest floor of run/: what one upstream call, one agent and
// one whole run came to. The stages write them, the runner logs them, metrics and tracing read them.
import type { CallErrorCode, RunErrorCode } from "../errors.js";
import type { CountedUsage } from "../llm/llm-client.js";

/** One upstream call as it ended. */
export interface CallRecord {
  /** The agent's name, "summarizer", or the stage's caller name. */
  caller: string;
  model: string;
  outcome: "ok" | CallErrorCode;
  latency_ms: number;
  first_token_ms?: number;
  usage?: CountedUsage;
}

export type AgentResult =
  | { agent: string; status: "ok"; output: string; latency_ms: number; usage?: CountedUsage; cost_usd?: number }
  | {
      agent: string;
      status: "error" | "timeout" | "cancelled";
      code: CallErrorCode;
      message: string;
      latency_ms: number;
      /** What the call consumed before it failed, when anything arrived. */
      usage?: CountedUsage;
    };

export interface SummarizerOutcome {
  ok: boolean;
  code?: CallErrorCode;
  model: string;
  latency_ms: number;
  first_token_ms?: number;
  usage?: CountedUsage;
}

export interface RunOutcome {
  status: "ok" | "partial" | "error";
  code?: RunErrorCode;
  agents: AgentResult[];
  /** Absent when no summarizer call was made. */
  summarizer?: SummarizerOutcome;
  /** Everything the run consumed, failed and cancelled calls included. */
  usage?: CountedUsage;
  /** The cost of `usage`, when every call's model has a price. */
  cost_usd?: number;
  latency_ms: number;
}

/** The reason a run's signal is aborted with: which run error code to end with. */
export class RunAbort extends Error {
  constructor(
    readonly code: "cancelled" | "shutting_down",
    message = code === "cancelled" ? "the run was cancelled" : "the server is shutting down",
  ) {
    super(message);
  }
}

/** Told when runs start and end: the metrics. */
export interface RunObserver {
  started(): void;
  /** `undefined` when the run crashed. */
  finished(outcome: RunOutcome | undefined): void;
}

/** The stage a call belongs to, from its caller name: metrics label it, tracing names its span after it. */
export type Stage = "agent" | "review" | "judge" | "summarizer";
export const stageOf = (caller: string): Stage =>
  caller.startsWith("review:") ? "review" : caller === "judge" ? "judge" : caller === "summarizer" ? "summarizer" : "agent";

export const since = (t0: number) => Math.round(performance.now() - t0);
