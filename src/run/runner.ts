// Starts runs: resolves the agents, runs the fan-out into the run's event log, and logs one
// line per run. The HTTP routes (process, OpenAI-compatible) call only `start`.
import type { Logger } from "pino";
import type { ChatMessage } from "../llm/llm-client.js";
import { runFanOut, type FanOutDeps } from "./fan-out.js";
import type { Run, RunRegistry } from "./run-registry.js";

export interface RunRequest {
  messageId: string;
  message: string;
  /** Agent names (already validated); default: all. */
  agents?: string[];
  streamAgents: boolean;
  history?: ChatMessage[];
}

export interface Runner {
  /** Starts the run, or joins the one in flight with the same id and message (409 otherwise). */
  start(req: RunRequest): { run: Run; joined: boolean };
}

export function createRunner(fanOut: FanOutDeps, registry: RunRegistry, logger: Logger): Runner {
  const agentsByName = new Map(fanOut.prompts.agents.map((a) => [a.name, a]));

  const execute = async (run: Run, req: RunRequest) => {
    const agents = req.agents ? req.agents.map((n) => agentsByName.get(n)!) : fanOut.prompts.agents;
    const emit = (event: string, data: unknown) => run.log.append(event, data);
    const input = { ...req, agents, signal: run.controller.signal };
    try {
      const outcome = await runFanOut(fanOut, input, emit);
      logger.info(
        {
          message_id: run.id,
          status: outcome.status,
          code: outcome.code,
          agents: outcome.agents.map((a) => ({
            agent: a.agent,
            status: a.status,
            ...("code" in a ? { code: a.code } : {}),
            latency_ms: a.latency_ms,
          })),
          latency_ms: outcome.latency_ms,
        },
        "run finished",
      );
    } catch (err) {
      // runFanOut does not throw by design; if it ever does, the stream still ends cleanly.
      logger.error({ err, message_id: run.id }, "run crashed");
      if (!run.log.ended) emit("error", { code: "internal_error", message: "internal error" });
    }
  };

  return {
    start: (req) => registry.startOrJoin(req.messageId, req.message, (run) => execute(run, req)),
  };
}
