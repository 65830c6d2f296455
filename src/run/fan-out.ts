// One run: fan the message out to the agents concurrently, tolerate the ones that fail, and
// stream the summarizer's answer over the survivors. Knows nothing of HTTP: it only emits
// the contract's events into a sink (the run's event log).
import type { LimitFunction } from "p-limit";
import type { Prompt, Prompts } from "../config/prompts.js";
import { CallError, type CallErrorCode, type RunErrorCode } from "../errors.js";
import type { ChatMessage, LlmClient, Usage } from "../llm/llm-client.js";
import { summarizerUserMessage } from "./summarizer-prompt.js";

export interface FanOutSettings {
  model: string;
  agentTimeoutMs: number;
  summarizerTimeoutMs: number;
  minAgentsOk: number;
}

export interface FanOutDeps {
  llm: LlmClient;
  prompts: Prompts;
  /** Bounds upstream calls across all runs (MAX_CONCURRENT_LLM_CALLS). */
  limit: LimitFunction;
  settings: FanOutSettings;
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
}

export type Emit = (event: string, data: unknown) => void;

export type AgentResult =
  | { agent: string; status: "ok"; output: string; latency_ms: number; usage?: Usage }
  | { agent: string; status: "error" | "timeout" | "cancelled"; code: CallErrorCode; message: string; latency_ms: number };

export interface RunOutcome {
  status: "ok" | "partial" | "error";
  code?: RunErrorCode;
  agents: AgentResult[];
  /** Absent when no summarizer call was made. */
  summarizer?: { ok: boolean; code?: CallErrorCode; latency_ms: number; first_token_ms?: number; usage?: Usage };
  latency_ms: number;
}

/** The reason a run's signal is aborted with: which run error code to end with. */
export class RunAbort extends Error {
  constructor(readonly code: "cancelled" | "shutting_down") {
    super(code === "cancelled" ? "the run was cancelled" : "the server is shutting down");
  }
}

const since = (t0: number) => Math.round(performance.now() - t0);

function addUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!b) return a;
  if (!a) return { ...b };
  return {
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
  };
}

/**
 * One guarded upstream call: waits for a concurrency slot, then streams under its own
 * timeout (counted from the moment the call starts, not from the queue). Throws CallError.
 */
async function guardedCall(
  deps: FanOutDeps,
  caller: string,
  prompt: Prompt,
  messages: ChatMessage[],
  timeoutMs: number,
  runSignal: AbortSignal,
  onDelta: (text: string) => void,
): Promise<{ text: string; usage?: Usage }> {
  return deps.limit(async () => {
    if (runSignal.aborted) throw new CallError("cancelled", "the run was cancelled");
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new CallError("timeout", `no complete answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const signal = AbortSignal.any([runSignal, timeout.signal]);
    let text = "";
    let usage: Usage | undefined;
    try {
      const stream = deps.llm.stream({
        caller,
        model: prompt.settings.model ?? deps.settings.model,
        messages,
        temperature: prompt.settings.temperature,
        maxTokens: prompt.settings.max_tokens,
        signal,
      });
      for await (const chunk of stream) {
        if (chunk.type === "delta") {
          text += chunk.text;
          onDelta(chunk.text);
        } else usage = chunk.usage;
      }
      return { text, usage };
    } catch (err) {
      if (runSignal.aborted) throw new CallError("cancelled", "the run was cancelled");
      if (timeout.signal.aborted) throw timeout.signal.reason as CallError;
      if (err instanceof CallError) throw err;
      throw new CallError("upstream_error", "upstream LLM call failed");
    } finally {
      clearTimeout(timer);
    }
  });
}

async function runAgent(deps: FanOutDeps, input: FanOutInput, agent: Prompt, emit: Emit): Promise<AgentResult> {
  const t0 = performance.now();
  emit("agent_start", { agent: agent.name });
  const messages: ChatMessage[] = [
    { role: "system", content: agent.system },
    ...(input.history ?? []),
    { role: "user", content: input.message },
  ];
  const onDelta = input.streamAgents
    ? (delta: string) => emit("agent_delta", { agent: agent.name, delta })
    : () => {};
  try {
    const timeoutMs = agent.settings.timeout_ms ?? deps.settings.agentTimeoutMs;
    const { text, usage } = await guardedCall(deps, agent.name, agent, messages, timeoutMs, input.signal, onDelta);
    const result: AgentResult = { agent: agent.name, status: "ok", output: text, latency_ms: since(t0) };
    if (usage) result.usage = usage;
    emit("agent_done", result);
    return result;
  } catch (err) {
    const e = err as CallError;
    const status = e.code === "timeout" ? "timeout" : e.code === "cancelled" ? "cancelled" : "error";
    const latency_ms = since(t0);
    emit("agent_error", { agent: agent.name, status, error: { code: e.code, message: e.message }, latency_ms });
    return { agent: agent.name, status, code: e.code, message: e.message, latency_ms };
  }
}

/** Runs the whole fan-out, emitting events; the last one emitted is `done` or `error`. */
export async function runFanOut(deps: FanOutDeps, input: FanOutInput, emit: Emit): Promise<RunOutcome> {
  const t0 = performance.now();
  let summarizerOutcome: RunOutcome["summarizer"];
  const fail = (code: RunErrorCode, message: string, agents: AgentResult[], extra: object = {}): RunOutcome => {
    emit("error", { code, message, ...extra });
    return { status: "error", code, agents, summarizer: summarizerOutcome, latency_ms: since(t0) };
  };
  const abortCode = () => (input.signal.reason instanceof RunAbort ? input.signal.reason.code : "cancelled");

  emit("start", { message_id: input.messageId, agents: input.agents.map((a) => a.name) });
  const results = await Promise.all(input.agents.map((a) => runAgent(deps, input, a, emit)));
  if (input.signal.aborted) return fail(abortCode(), (input.signal.reason as Error).message, results);

  const ok = results.filter((r) => r.status === "ok");
  if (ok.length === 0) return fail("all_agents_failed", "every agent failed; no summary was made", results);
  if (ok.length < deps.settings.minAgentsOk) {
    return fail(
      "not_enough_agents",
      `${ok.length} agent(s) answered, ${deps.settings.minAgentsOk} needed for a summary`,
      results,
    );
  }

  const summarizer = deps.prompts.summarizer;
  const messages: ChatMessage[] = [
    { role: "system", content: summarizer.system },
    ...(input.history ?? []),
    { role: "user", content: summarizerUserMessage(input.message, results) },
  ];
  let summary: { text: string; usage?: Usage };
  const s0 = performance.now();
  let firstToken: number | undefined;
  try {
    summary = await guardedCall(
      deps,
      "summarizer",
      summarizer,
      messages,
      summarizer.settings.timeout_ms ?? deps.settings.summarizerTimeoutMs,
      input.signal,
      (delta) => {
        firstToken ??= since(s0);
        emit("summary_delta", { delta });
      },
    );
  } catch (err) {
    const e = err as CallError;
    summarizerOutcome = { ok: false, code: e.code, latency_ms: since(s0), first_token_ms: firstToken };
    if (input.signal.aborted) return fail(abortCode(), (input.signal.reason as Error).message, results);
    // The agents' outputs were paid for: hand them over even though no summary came.
    const outputs = Object.fromEntries(ok.map((r) => [r.agent, r.status === "ok" ? r.output : ""]));
    return fail("summarizer_failed", `the summarizer failed: ${e.message}`, results, { outputs });
  }

  const status = ok.length === results.length ? "ok" : "partial";
  const usage = [...ok.map((r) => (r.status === "ok" ? r.usage : undefined)), summary.usage].reduce(addUsage, undefined);
  const latency_ms = since(t0);
  emit("done", {
    message_id: input.messageId,
    status,
    agents: { ok: ok.length, failed: results.length - ok.length },
    summary: summary.text,
    ...(usage ? { usage } : {}),
    latency_ms,
  });
  summarizerOutcome = { ok: true, latency_ms: since(s0), first_token_ms: firstToken, usage: summary.usage };
  return { status, agents: results, summarizer: summarizerOutcome, latency_ms };
}
