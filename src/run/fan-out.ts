// One run: fan the message out to the agents concurrently, tolerate the ones that fail, and
// stream the summarizer's answer over the survivors. Knows nothing of HTTP: it only emits
// the contract's events into a sink (the run's event log).
import type { LimitFunction } from "p-limit";
import { costUsd, roundUsd, type PriceTable } from "../config/prices.js";
import type { Prompt, Prompts } from "../config/prompts.js";
import { CallError, type CallErrorCode, type RunErrorCode } from "../errors.js";
import type { ChatMessage, LlmClient, Usage } from "../llm/llm-client.js";
import type { UpstreamBudgets } from "../llm/upstream-budget.js";
import type { UpstreamTarget } from "../llm/upstream-target.js";
import type { RunTrace, RunTracer } from "../observability/tracing.js";
import { summarizerUserMessage } from "./summarizer-prompt.js";
import { addUsage, countUsage, type CountedUsage } from "./usage.js";

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
}

export interface FanOutDeps {
  llm: LlmClient;
  prompts: Prompts;
  /** Where each agent's calls go, by agent name. */
  agentTargets: Map<string, UpstreamTarget>;
  /** The summarizer's target, then its fallbacks, in order. */
  summarizerTargets: UpstreamTarget[];
  budgets: UpstreamBudgets;
  /** Bounds upstream calls across all runs (MAX_CONCURRENT_LLM_CALLS). */
  limit: LimitFunction;
  settings: FanOutSettings;
  /** model → USD per 1M tokens; without it no cost_usd is reported. */
  prices?: PriceTable;
  /** Told once per upstream call as it ends (agents, summarizer, fallbacks): for metrics. */
  onCall?: (call: CallRecord) => void;
  /** Opens a span per run and per call (tracing.ts); absent when tracing is off. */
  tracer?: RunTracer;
}

/** One upstream call as it ended. */
export interface CallRecord {
  /** The agent's name, or "summarizer". */
  caller: string;
  model: string;
  outcome: "ok" | CallErrorCode;
  latency_ms: number;
  first_token_ms?: number;
  usage?: CountedUsage;
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
}

export type Emit = (event: string, data: unknown) => void;

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

export interface RunOutcome {
  status: "ok" | "partial" | "error";
  code?: RunErrorCode;
  agents: AgentResult[];
  /** Absent when no summarizer call was made. */
  summarizer?: { ok: boolean; code?: CallErrorCode; model: string; latency_ms: number; first_token_ms?: number; usage?: CountedUsage };
  /** Everything the run consumed, failed and cancelled calls included. */
  usage?: CountedUsage;
  /** The cost of `usage`, when every call's model has a price. */
  cost_usd?: number;
  latency_ms: number;
}

/** The reason a run's signal is aborted with: which run error code to end with. */
export class RunAbort extends Error {
  constructor(readonly code: "cancelled" | "shutting_down") {
    super(code === "cancelled" ? "the run was cancelled" : "the server is shutting down");
  }
}

const since = (t0: number) => Math.round(performance.now() - t0);

interface Call {
  caller: string;
  target: UpstreamTarget;
  prompt: Prompt;
  messages: ChatMessage[];
  timeoutMs: number;
  firstTokenTimeoutMs: number;
  runSignal: AbortSignal;
  /** Aborted with a CallError to cut this call short (the fan-out deadline). */
  cut?: AbortSignal;
  onDelta: (text: string) => void;
  trace?: RunTrace;
}

/**
 * One guarded upstream call. Its clock starts at once: waiting for the endpoint's request
 * budget counts, waiting for a concurrency slot does not. Guards: the whole-call cap, time to
 * first token, and silence between tokens, so a long healthy answer is never cut while a dead
 * connection is noticed in seconds. Throws CallError, carrying what was received before the failure.
 */
async function guardedCall(deps: FanOutDeps, call: Call): Promise<{ text: string; usage?: CountedUsage }> {
  const { settings } = deps;
  const t0 = performance.now();
  // Out here, not in the slot's closure: a failed call's text and usage are still counted.
  let text = "";
  let upstreamUsage: Usage | undefined;
  let firstTokenMs: number | undefined;
  const span = call.trace?.startCall(call.caller, call.target.model);
  const report = (outcome: CallRecord["outcome"]) => {
    const usage = countUsage(call.messages, text, upstreamUsage);
    const record: CallRecord = { caller: call.caller, model: call.target.model, outcome, latency_ms: since(t0), first_token_ms: firstTokenMs, usage };
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
  const failure = (err: unknown): CallError => {
    if (call.runSignal.aborted) return new CallError("cancelled", "the run was cancelled");
    if (call.cut?.aborted) return call.cut.reason as CallError;
    if (err instanceof CallError && err.code === "rate_limited") return err;
    if (guard.signal.aborted) return guard.signal.reason as CallError;
    return err instanceof CallError ? err : new CallError("upstream_error", "upstream LLM call failed");
  };
  try {
    if (call.target.rpm > 0) await deps.budgets.acquire(call.target, signal);
    await deps.limit(async () => {
      if (signal.aborted) throw signal.reason;
      watchdog = setTimeout(() => trip(`no first token within ${call.firstTokenTimeoutMs} ms`), call.firstTokenTimeoutMs);
      const stream = deps.llm.stream({
        caller: call.caller,
        model: call.target.model,
        endpoint: call.target,
        messages: call.messages,
        temperature: call.prompt.settings.temperature,
        maxTokens: call.prompt.settings.max_tokens,
        signal,
        ...(span ? { headers: span.headers } : {}),
      });
      let started = false;
      for await (const chunk of stream) {
        if (chunk.type === "delta") {
          if (started) watchdog.refresh(); // re-arm, not re-create: this runs once per token
          else {
            started = true;
            firstTokenMs = since(t0);
            clearTimeout(watchdog);
            watchdog = setTimeout(() => trip(`no token for ${settings.stallTimeoutMs} ms`), settings.stallTimeoutMs);
          }
          text += chunk.text;
          call.onDelta(chunk.text);
        } else upstreamUsage = chunk.usage;
      }
    });
  } catch (err) {
    const e = failure(err);
    // A fresh error: `e` may be shared (the fan-out deadline's reason cuts several calls).
    throw new CallError(e.code, e.message, { text, usage: report(e.code) });
  } finally {
    clearTimeout(cap);
    clearTimeout(watchdog);
    sources.forEach((s, i) => s.removeEventListener("abort", forwarders[i]!));
  }
  return { text, usage: report("ok") };
}

function agentStatus(code: CallErrorCode): "timeout" | "cancelled" | "error" {
  return code === "timeout" ? "timeout" : code === "cancelled" ? "cancelled" : "error";
}

/** Runs the whole fan-out, emitting events; the last one emitted is `done` or `error`. */
export async function runFanOut(deps: FanOutDeps, input: FanOutInput, emit: Emit): Promise<RunOutcome> {
  const t0 = performance.now();
  const { settings } = deps;
  let summarizerOutcome: RunOutcome["summarizer"];
  // Everything the run consumed, failed calls included: those tokens were paid for too.
  let spent: CountedUsage | undefined;
  let cost: number | undefined = 0;
  /** Adds one call's usage to the run's; returns its cost when its model has a price. */
  const charge = (model: string, usage: CountedUsage | undefined): number | undefined => {
    if (!usage) return undefined;
    spent = addUsage(spent, usage);
    const c = costUsd(deps.prices, model, usage);
    cost = c === undefined || cost === undefined ? undefined : cost + c;
    return c;
  };
  const bill = () => (spent ? { usage: spent, ...(cost !== undefined ? { cost_usd: roundUsd(cost) } : {}) } : {});
  const fail = (code: RunErrorCode, message: string, agents: AgentResult[], extra: object = {}): RunOutcome => {
    emit("error", { code, message, ...extra });
    return { status: "error", code, agents, summarizer: summarizerOutcome, ...bill(), latency_ms: since(t0) };
  };
  const abortCode = () => (input.signal.reason instanceof RunAbort ? input.signal.reason.code : "cancelled");
  const history = input.history ?? [];

  // The fan-out deadline: once passed, as soon as minAgentsOk have answered, cut the rest.
  const stragglers = new AbortController();
  let okCount = 0;
  let deadlinePassed = false;
  const maybeCut = () => {
    if (deadlinePassed && okCount >= settings.minAgentsOk && !stragglers.signal.aborted) {
      stragglers.abort(new CallError("timeout", `still running at the fan-out deadline (${settings.fanOutDeadlineMs} ms)`));
    }
  };
  const deadline =
    settings.fanOutDeadlineMs > 0
      ? setTimeout(() => {
          deadlinePassed = true;
          maybeCut();
        }, settings.fanOutDeadlineMs)
      : undefined;

  const runAgent = async (agent: Prompt): Promise<AgentResult> => {
    const a0 = performance.now();
    const target = deps.agentTargets.get(agent.name)!;
    emit("agent_start", { agent: agent.name });
    try {
      const { text, usage } = await guardedCall(deps, {
        caller: agent.name,
        target,
        prompt: agent,
        messages: [{ role: "system", content: agent.system }, ...history, { role: "user", content: input.message }],
        timeoutMs: agent.settings.timeout_ms ?? settings.agentTimeoutMs,
        firstTokenTimeoutMs: settings.firstTokenTimeoutMs,
        runSignal: input.signal,
        cut: stragglers.signal,
        trace: input.trace,
        onDelta: input.streamAgents ? (delta) => emit("agent_delta", { agent: agent.name, delta }) : () => {},
      });
      const result: AgentResult = { agent: agent.name, status: "ok", output: text, latency_ms: since(a0) };
      if (usage) result.usage = usage;
      const cost_usd = charge(target.model, usage);
      if (cost_usd !== undefined) result.cost_usd = cost_usd;
      emit("agent_done", result);
      okCount++;
      maybeCut();
      return result;
    } catch (err) {
      const e = err as CallError;
      const status = agentStatus(e.code);
      const latency_ms = since(a0);
      const usage = e.received?.usage;
      const cost_usd = charge(target.model, usage);
      emit("agent_error", {
        agent: agent.name,
        status,
        error: { code: e.code, message: e.message },
        latency_ms,
        ...(usage ? { usage } : {}),
        ...(cost_usd !== undefined ? { cost_usd } : {}),
      });
      return { agent: agent.name, status, code: e.code, message: e.message, latency_ms, ...(usage ? { usage } : {}) };
    }
  };

  emit("start", { message_id: input.messageId, agents: input.agents.map((a) => a.name) });
  const results = await Promise.all(input.agents.map(runAgent));
  clearTimeout(deadline);
  if (input.signal.aborted) return fail(abortCode(), (input.signal.reason as Error).message, results);

  const ok = results.filter((r) => r.status === "ok");
  if (ok.length === 0) return fail("all_agents_failed", "every agent failed; no summary was made", results);
  if (ok.length < settings.minAgentsOk) {
    return fail("not_enough_agents", `${ok.length} agent(s) answered, ${settings.minAgentsOk} needed for a summary`, results);
  }

  const summarizer = deps.prompts.summarizer;
  const messages: ChatMessage[] = [
    { role: "system", content: summarizer.system },
    ...history,
    { role: "user", content: summarizerUserMessage(input.message, results) },
  ];
  let summary: { text: string; usage?: Usage } | undefined;
  let lastError: CallError | undefined;
  // Fallbacks are tried only while nothing was streamed: the client never sees two summaries.
  for (const target of deps.summarizerTargets) {
    const s0 = performance.now();
    let firstToken: number | undefined;
    try {
      summary = await guardedCall(deps, {
        caller: "summarizer",
        target,
        prompt: summarizer,
        messages,
        timeoutMs: summarizer.settings.timeout_ms ?? settings.summarizerTimeoutMs,
        firstTokenTimeoutMs: settings.summarizerFirstTokenTimeoutMs,
        runSignal: input.signal,
        trace: input.trace,
        onDelta: (delta) => {
          firstToken ??= since(s0);
          emit("summary_delta", { delta });
        },
      });
      summarizerOutcome = { ok: true, model: target.model, latency_ms: since(s0), first_token_ms: firstToken, usage: summary.usage };
      charge(target.model, summary.usage);
      break;
    } catch (err) {
      lastError = err as CallError;
      const usage = lastError.received?.usage;
      charge(target.model, usage);
      summarizerOutcome = { ok: false, code: lastError.code, model: target.model, latency_ms: since(s0), first_token_ms: firstToken, usage };
      if (input.signal.aborted) return fail(abortCode(), (input.signal.reason as Error).message, results);
      if (firstToken !== undefined) break;
    }
  }
  if (!summary) {
    // The agents' outputs were paid for: hand them over even though no summary came.
    const outputs = Object.fromEntries(ok.map((r) => [r.agent, r.status === "ok" ? r.output : ""]));
    return fail("summarizer_failed", `the summarizer failed: ${lastError!.message}`, results, { outputs });
  }

  const status = ok.length === results.length ? "ok" : "partial";
  const latency_ms = since(t0);
  emit("done", {
    message_id: input.messageId,
    status,
    agents: { ok: ok.length, failed: results.length - ok.length },
    summary: summary.text,
    ...bill(),
    latency_ms,
  });
  return { status, agents: results, summarizer: summarizerOutcome, ...bill(), latency_ms };
}
