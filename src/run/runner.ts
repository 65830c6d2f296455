// Starts runs: resolves the plan (preset, agents, strategy, rounds), runs the fan-out into the
// run's event log, and logs one line per run. The same path carries on a run taken over from a
// replica that died. The HTTP routes (process, OpenAI-compatible) call only `start` and `dryRun`.
import type { Logger } from "pino";
import type { Strategy } from "../config/presets.js";
import { ApiError } from "../errors.js";
import type { ChatMessage } from "../llm/llm-client.js";
import type { TraceCarrier } from "../observability/tracing.js";
import type { OnDisconnect, StoredRequest } from "../store/runs.js";
import { estimateRun, type Estimate } from "./estimate.js";
import type { Emit, RunEvent } from "./events.js";
import { runFanOut, type FanOutDeps } from "./fan-out.js";
import type { RunObserver, RunOutcome } from "./outcome.js";
import { resolvePlan, type RunPlan } from "./plan.js";
import type { Run, RunHandle, RunRegistry } from "./run-registry.js";
import { resumeFrom } from "./takeover.js";

export interface RunRequest {
  messageId: string;
  message: string;
  /** Agent names (already validated); default: the preset's, else all. */
  agents?: string[];
  streamAgents: boolean;
  history?: ChatMessage[];
  /** Continue this conversation (see conversation-runner.ts). */
  conversationId?: string;
  /** The place in the conversation reserved for this run's turn (set by conversation-runner.ts). */
  conversation?: { id: string; seq: number };
  /** What the run does when its last client leaves; default ON_DISCONNECT. */
  onDisconnect?: OnDisconnect;
  /** The X-Request-Id of the request that started the run: on each of the run's log lines. */
  requestId?: string;
  /** The W3C trace context (traceparent, tracestate) of that request: the run's span is its child. */
  traceContext?: TraceCarrier;
  /** The preset (default DEFAULT_PRESET) and the request's overrides of it. */
  preset?: string;
  strategy?: Strategy;
  rounds?: number;
  maxCostUsd?: number;
}

/** What a dry run answers: the plan and its worst-case cost. */
export interface DryRun {
  plan: { preset: string; strategy: Strategy; rounds: number; agents: string[]; calls: number };
  estimate: { prompt_tokens: number; completion_tokens: number; cost_usd: number | null };
}

export interface Runner {
  /**
   * Starts the run, or joins the one in flight with the same id and message (message_id_conflict
   * otherwise). With a max_cost_usd, refuses a plan whose worst-case cost is above it
   * (budget_exceeded) or unknown (invalid_request).
   */
  start(req: RunRequest): Promise<{ run: RunHandle; joined: boolean }>;
  /** The plan and its estimate; no call, no run. */
  dryRun(req: RunRequest): Promise<DryRun>;
}

/** Records a finished run's conversation turn (conversation-runner.ts). */
export type RecordTurn = (conversation: { id: string; seq: number }, turn: { message_id: string; message: string; summary: string; status: "ok" | "partial" }) => Promise<void>;

export function createRunner(
  fanOut: FanOutDeps,
  registry: RunRegistry,
  logger: Logger,
  observer?: RunObserver,
  recordTurn?: RecordTurn,
  defaultOnDisconnect: OnDisconnect = "cancel",
): Runner {
  const planOf = (req: StoredRequest | RunRequest) => resolvePlan(fanOut.prompts, fanOut.defaultPreset ?? "default", req);
  const checkBudget = (plan: RunPlan, estimate: Estimate) => {
    if (plan.maxCostUsd === undefined) return;
    if (estimate.cost_usd === null) {
      throw new ApiError("invalid_request", `max_cost_usd: the plan uses a model without a price (${estimate.unpriced.join(", ")}); add it to the price table (PRICES_FILE)`, [
        { field: "max_cost_usd", message: "a model of the plan has no price" },
      ]);
    }
    if (estimate.cost_usd > plan.maxCostUsd) {
      throw new ApiError("budget_exceeded", `the run's worst-case cost ${estimate.cost_usd} USD is above max_cost_usd ${plan.maxCostUsd} USD`, {
        estimate_usd: estimate.cost_usd,
        max_cost_usd: plan.maxCostUsd,
      });
    }
  };
  // A trace context is not stored with the request: a run taken over starts a fresh trace.
  const traces = new WeakMap<StoredRequest, TraceCarrier>();

  const execute = async (run: Run, req: StoredRequest, prior?: RunEvent[]) => {
    const plan = planOf(req);
    const agents = plan.agents;
    const emit: Emit = (event, data) => run.log.append(event, data);
    const trace = fanOut.tracer?.startRun(run.id, agents.length, traces.get(req));
    const input = {
      ...req,
      agents,
      strategy: plan.strategy,
      rounds: plan.rounds,
      limits: plan.limits,
      maxCostUsd: plan.maxCostUsd,
      signal: run.controller.signal,
      trace,
    };
    // Made only when a line will be written: a child logger per run costs on the hot path.
    const log = () => logger.child({ message_id: run.id, request_id: req.requestId });
    let outcome: RunOutcome | undefined;
    observer?.started();
    try {
      if (prior && logger.isLevelEnabled("info")) log().info({ events: prior.length }, "run taken over");
      outcome = await runFanOut(fanOut, input, emit, prior ? resumeFrom(prior) : undefined);
      if (logger.isLevelEnabled("info")) log().info(
        {
          status: outcome.status,
          code: outcome.code,
          preset: plan.preset,
          strategy: plan.strategy,
          ...(plan.rounds > 1 ? { rounds: plan.rounds } : {}),
          agents: outcome.agents.map((a) => ({
            agent: a.agent,
            status: a.status,
            ...("code" in a ? { code: a.code } : {}),
            latency_ms: a.latency_ms,
            ...(a.usage ? { usage: a.usage } : {}),
          })),
          // Failed and cancelled calls included: what was received was paid for.
          usage: outcome.usage,
          cost_usd: outcome.cost_usd,
          latency_ms: outcome.latency_ms,
        },
        "run finished",
      );
      const end = run.log.events[run.log.events.length - 1];
      // Only once `done` is kept by the store: a replica that lost the run never records its turn.
      if (req.conversation && recordTurn && end?.event === "done" && (await run.log.settled())) {
        await recordTurn(req.conversation, { message_id: run.id, message: req.message, summary: end.data.summary, status: end.data.status });
      }
    } catch (err) {
      // runFanOut does not throw by design; if it ever does, the stream still ends cleanly.
      log().error({ err }, "run crashed");
      if (!run.log.ended) emit("error", { code: "internal_error", message: "internal error" });
    } finally {
      observer?.finished(outcome);
      trace?.end(outcome);
    }
  };
  registry.bind(execute);

  return {
    start: async ({ traceContext, conversationId: _, ...rest }) => {
      const plan = planOf(rest);
      // Estimated only against a cap: building every call's prompt text is work no other run needs.
      if (plan.maxCostUsd !== undefined) checkBudget(plan, estimateRun(fanOut, plan, rest.message, rest.history));
      const req: StoredRequest = { ...rest, onDisconnect: rest.onDisconnect ?? defaultOnDisconnect };
      if (traceContext) traces.set(req, traceContext);
      return registry.start(req);
    },
    dryRun: async (req) => {
      const plan = planOf(req);
      // Answers the estimate whatever max_cost_usd says: the caller compares.
      const e = estimateRun(fanOut, plan, req.message, req.history);
      return {
        plan: { preset: plan.preset, strategy: plan.strategy, rounds: plan.rounds, agents: plan.agents.map((a) => a.name), calls: e.calls },
        estimate: { prompt_tokens: e.prompt_tokens, completion_tokens: e.completion_tokens, cost_usd: e.cost_usd },
      };
    },
  };
}
