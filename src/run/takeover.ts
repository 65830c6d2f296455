// Carrying on a run another replica started and died holding: what its log says was done
// (agents whose call ended are not called again: those answers were paid for), and the agents
// stage, round by round, for the rest. Later stages (reviews, judge, summary) run again.
import type { Prompt } from "../config/prompts.js";
import { runAgents } from "./agents-stage.js";
import type { RunContext } from "./context.js";
import type { RunEvent } from "./events.js";
import type { AgentResult } from "./outcome.js";

export interface Resume {
  /** The `start` event was logged. */
  started: boolean;
  /** Agents whose call ended (agent_done or agent_error), by round (1 without rounds), then name. */
  finished: Map<number, Map<string, AgentResult>>;
  /** Summary tokens were sent (and not voided): the new summary starts with summary_restart. */
  summaryStarted: boolean;
}

/** Rebuilds what a run had done from its logged events. */
export function resumeFrom(events: RunEvent[]): Resume {
  const finished = new Map<number, Map<string, AgentResult>>();
  const record = (round: number | undefined, r: AgentResult) => {
    const m = finished.get(round ?? 1) ?? new Map<string, AgentResult>();
    finished.set(round ?? 1, m.set(r.agent, r));
  };
  let started = false;
  let summaryStarted = false;
  for (const e of events) {
    if (e.event === "start") started = true;
    else if (e.event === "agent_done") {
      const { agent, output, latency_ms, usage, cost_usd, round } = e.data;
      record(round, { agent, status: "ok", output, latency_ms, ...(usage ? { usage } : {}), ...(cost_usd !== undefined ? { cost_usd } : {}) });
    } else if (e.event === "agent_error") {
      const { agent, status, error, latency_ms, usage, round } = e.data;
      record(round, { agent, status, code: error.code, message: error.message, latency_ms, ...(usage ? { usage } : {}) });
    } else if (e.event === "summary_delta") summaryStarted = true;
    else if (e.event === "summary_restart") summaryStarted = false;
  }
  return { started, finished, summaryStarted };
}

/** The agents called again first: the unfinished ones of the first round that is not complete. */
export function takeoverRerun(resume: Resume, agents: Prompt[], rounds: number): string[] {
  for (let round = 1; round <= rounds; round++) {
    const done = resume.finished.get(round);
    const rerun = agents.filter((a) => !done?.has(a.name)).map((a) => a.name);
    if (rerun.length) return rerun;
  }
  return [];
}

/** One round of the agents stage of a run taken over: logged results kept, only the others called. */
export async function resumeRound(ctx: RunContext, resume: Resume, userMessage: string, round: number, label: number | undefined): Promise<AgentResult[]> {
  const { input, deps } = ctx;
  const done = resume.finished.get(round) ?? new Map<string, AgentResult>();
  for (const r of done.values()) ctx.charge(deps.agentTargets.get(r.agent)?.model ?? "", r.usage);
  const rerun = input.agents.filter((a) => !done.has(a.name));
  const fresh = rerun.length ? await runAgents({ ...ctx, input: { ...input, agents: rerun } }, userMessage, label) : [];
  const byName = new Map([...done, ...fresh.map((r) => [r.agent, r] as const)]);
  return input.agents.map((a) => byName.get(a.name)!);
}
