// The agents stage: every agent answers concurrently; failures are tolerated. The fan-out
// deadline cuts the stragglers once it has passed and minAgentsOk have answered.
import type { Prompt } from "../config/prompts.js";
import { CallError, type CallErrorCode } from "../errors.js";
import type { ChatMessage } from "../llm/llm-client.js";
import type { RunContext } from "./context.js";
import { guardedCall } from "./guarded-call.js";
import { since, type AgentResult } from "./outcome.js";

export function agentStatus(code: CallErrorCode): "timeout" | "cancelled" | "error" {
  return code === "timeout" ? "timeout" : code === "cancelled" ? "cancelled" : "error";
}

/**
 * Runs every agent of the run once, emitting agent_start, agent_delta*, agent_done/agent_error;
 * with `round` (mixture of agents, rounds > 1) every event carries it.
 */
export async function runAgents(ctx: RunContext, userMessage: string = ctx.input.message, round?: number): Promise<AgentResult[]> {
  const r = round === undefined ? {} : { round };
  const { deps, input, emit } = ctx;
  const { settings } = deps;
  const history: ChatMessage[] = input.history ?? [];

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
    emit("agent_start", { agent: agent.name, ...r });
    try {
      const { text, usage } = await guardedCall(deps, {
        caller: agent.name,
        target,
        prompt: agent,
        messages: [{ role: "system", content: agent.system }, ...history, { role: "user", content: userMessage }],
        timeoutMs: agent.settings.timeout_ms ?? settings.agentTimeoutMs,
        firstTokenTimeoutMs: settings.firstTokenTimeoutMs,
        runSignal: input.signal,
        cut: stragglers.signal,
        trace: input.trace,
        onDelta: input.streamAgents ? (delta) => emit("agent_delta", { agent: agent.name, delta, ...r }) : () => {},
      });
      const result: AgentResult = { agent: agent.name, status: "ok", output: text, latency_ms: since(a0) };
      if (usage) result.usage = usage;
      const cost_usd = ctx.charge(target.model, usage);
      if (cost_usd !== undefined) result.cost_usd = cost_usd;
      emit("agent_done", { ...result, ...r });
      okCount++;
      maybeCut();
      return result;
    } catch (err) {
      const e = err as CallError;
      const status = agentStatus(e.code);
      const latency_ms = since(a0);
      const usage = e.received?.usage;
      const cost_usd = ctx.charge(target.model, usage);
      emit("agent_error", {
        agent: agent.name,
        status,
        error: { code: e.code, message: e.message },
        latency_ms,
        ...(usage ? { usage } : {}),
        ...(cost_usd !== undefined ? { cost_usd } : {}),
        ...r,
      });
      return { agent: agent.name, status, code: e.code, message: e.message, latency_ms, ...(usage ? { usage } : {}) };
    }
  };

  try {
    return await Promise.all(input.agents.map(runAgent));
  } finally {
    clearTimeout(deadline);
  }
}
