// Carrying on a run another replica started and died holding: what its log says was done
// (agents whose call ended are not called again: those answers were paid for), and the agents
// stage for the rest.
import { runAgents } from "./agents-stage.js";
import type { RunContext } from "./context.js";
import type { RunEvent } from "./events.js";
import type { AgentResult } from "./outcome.js";

export interface Resume {
  /** The `start` event was logged. */
  started: boolean;
  /** Agents whose call ended (agent_done or agent_error), by name. */
  finished: Map<string, AgentResult>;
  /** Summary tokens were sent (and not voided): the new summary starts with summary_restart. */
  summaryStarted: boolean;
}

/** Rebuilds what a run had done from its logged events. */
export function resumeFrom(events: RunEvent[]): Resume {
  const finished = new Map<string, AgentResult>();
  let started = false;
  let summaryStarted = false;
  for (const e of events) {
    if (e.event === "start") started = true;
    else if (e.event === "agent_done") {
      const { agent, output, latency_ms, usage, cost_usd } = e.data;
      finished.set(agent, { agent, status: "ok", output, latency_ms, ...(usage ? { usage } : {}), ...(cost_usd !== undefined ? { cost_usd } : {}) });
    } else if (e.event === "agent_error") {
      const { agent, status, error, latency_ms, usage } = e.data;
      finished.set(agent, { agent, status, code: error.code, message: error.message, latency_ms, ...(usage ? { usage } : {}) });
    } else if (e.event === "summary_delta") summaryStarted = true;
    else if (e.event === "summary_restart") summaryStarted = false;
  }
  return { started, finished, summaryStarted };
}

/** The agents stage of a run taken over: logs `takeover`, calls only the unfinished agents, returns every agent's result in order. */
export async function resumeAgents(ctx: RunContext, resume: Resume): Promise<AgentResult[]> {
  const { input, deps } = ctx;
  const rerun = input.agents.filter((a) => !resume.finished.has(a.name));
  ctx.emit("takeover", { rerun: rerun.map((a) => a.name) });
  for (const r of resume.finished.values()) ctx.charge(deps.agentTargets.get(r.agent)?.model ?? "", r.usage);
  const fresh = rerun.length ? await runAgents({ ...ctx, input: { ...input, agents: rerun } }) : [];
  const byName = new Map([...resume.finished, ...fresh.map((r) => [r.agent, r] as const)]);
  return input.agents.map((a) => byName.get(a.name)!);
}
