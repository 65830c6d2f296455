// Starts runs: resolves the agents, runs the fan-out into the run's event log, and logs one
// line per run. The HTTP routes (process, OpenAI-compatible) call only `start`.
import type { Logger } from "pino";
import type { ChatMessage } from "../llm/llm-client.js";
import type { TraceCarrier } from "../observability/tracing.js";
import { runFanOut, type FanOutDeps } from "./fan-out.js";
import type { Emit } from "./events.js";
import type { RunObserver, RunOutcome } from "./outcome.js";
import type { Run, RunHandle, RunRegistry } from "./run-registry.js";

export interface RunRequest {
  messageId: string;
  message: string;
  /** Agent names (already validated); default: all. */
  agents?: string[];
  streamAgents: boolean;
  history?: ChatMessage[];
  /** Continue this conversation (see conversation-runner.ts). */
  conversationId?: string;
  /** The X-Request-Id of the request that started the run: on each of the run's log lines. */
  requestId?: string;
  /** The W3C trace context (traceparent, tracestate) of that request: the run's span is its child. */
  traceContext?: TraceCarrier;
}

export interface Runner {
  /** Starts the run, or joins the one in flight with the same id and message (message_id_conflict otherwise). */
  start(req: RunRequest): Promise<{ run: RunHandle; joined: boolean }>;
}

export function createRunner(fanOut: FanOutDeps, registry: RunRegistry, logger: Logger, observer?: RunObserver): Runner {
  const agentsByName = new Map(fanOut.prompts.agents.map((a) => [a.name, a]));

  const execute = async (run: Run, req: RunRequest) => {
    const agents = req.agents ? req.agents.map((n) => agentsByName.get(n)!) : fanOut.prompts.agents;
    const emit: Emit = (event, data) => run.log.append(event, data);
    const trace = fanOut.tracer?.startRun(run.id, agents.length, req.traceContext);
    const input = { ...req, agents, signal: run.controller.signal, trace };
    // Made only when a line will be written: a child logger per run costs on the hot path.
    const log = () => logger.child({ message_id: run.id, request_id: req.requestId });
    let outcome: RunOutcome | undefined;
    observer?.started();
    try {
      outcome = await runFanOut(fanOut, input, emit);
      if (logger.isLevelEnabled("info")) log().info(
        {
          status: outcome.status,
          code: outcome.code,
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
    } catch (err) {
      // runFanOut does not throw by design; if it ever does, the stream still ends cleanly.
      log().error({ err }, "run crashed");
      if (!run.log.ended) emit("error", { code: "internal_error", message: "internal error" });
    } finally {
      observer?.finished(outcome);
      trace?.end(outcome);
    }
  };

  return {
    start: (req) => registry.start(req.messageId, req.message, (run) => execute(run, req)),
  };
}
