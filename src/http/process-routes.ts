// /api/process: start (or join) a run and stream it; resume a run's events; cancel a run.
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError, overloaded } from "../errors.js";
import type { RunHandle, RunRegistry } from "../run/run-registry.js";
import type { Runner } from "../run/runner.js";
import type { StreamQuota } from "./stream-quota.js";
import { invalidRequest } from "./errors.js";
import { lastEventIdSchema, processRequestSchema } from "./request-schemas.js";
import { sendSse } from "./stream-response.js";
import { eventFrames } from "./sse-writer.js";
import type { AppEnv } from "./app-env.js";

export interface ProcessRoutesDeps {
  registry: RunRegistry;
  streams: StreamQuota;
  agentNames: string[];
  presetNames: string[];
  maxMessageChars: number;
  maxBodyBytes: number;
  heartbeatMs: number;
  writeTimeoutMs: number;
  runner: Runner;
  /** True when too many runs wait for upstream capacity. */
  overloaded: () => boolean;
}


const JSON_TYPE = /^application\/json\s*(;|$)/i;

/**
 * MAX_BODY_BYTES, enforced before parsing, also for bodies without Content-Length (Hono's
 * bodyLimit). A declared length is checked here from the header alone: bodyLimit's first step
 * reads `c.req.raw.body`, which makes node-server build a whole web Request for every POST.
 */
export const jsonBodyLimit = (maxBytes: number): MiddlewareHandler => {
  const tooLarge = () => {
    throw new ApiError("payload_too_large", `the request body is over ${maxBytes} bytes`);
  };
  const streamed = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return (c, next) => {
    const length = c.req.header("content-length");
    if (length === undefined || c.req.header("transfer-encoding") !== undefined) return streamed(c, next);
    return Number(length) > maxBytes ? tooLarge() : next();
  };
};

/** Parses a JSON body with the contract's errors: 415, 413, 400 invalid_json. */
export async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header("content-type");
  if (!type || !JSON_TYPE.test(type)) {
    throw new ApiError("unsupported_media_type", "Content-Type must be application/json");
  }
  const text = await c.req.text();
  if (!text.trim()) throw new ApiError("invalid_json", "the request body is empty");
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError("invalid_json", "the request body is not valid JSON");
  }
}

export function processRoutes(deps: ProcessRoutesDeps) {
  const schema = processRequestSchema(deps.maxMessageChars, deps.agentNames, deps.presetNames);
  const app = new Hono<AppEnv>();

  const sse = { heartbeatMs: deps.heartbeatMs, writeTimeoutMs: deps.writeTimeoutMs };
  /** Streams `run` from after `afterId` to this client, counting it as a follower until it leaves. */
  const stream = (c: Context<AppEnv>, run: RunHandle, afterId: number, closeQuota: () => void) => {
    const release = deps.registry.follow(run);
    return sendSse(c, eventFrames(run.log, afterId), sse, () => {
      release();
      closeQuota();
    });
  };

  app.post(
    "/api/process",
    jsonBodyLimit(deps.maxBodyBytes),
    async (c) => {
      const parsed = schema.safeParse(await readJson(c));
      if (!parsed.success) throw invalidRequest(parsed.error);
      const req = parsed.data;
      const runRequest = {
        messageId: req.message_id,
        message: req.message,
        agents: req.agents,
        streamAgents: req.stream_agents,
        conversationId: req.conversation_id,
        preset: req.preset,
        strategy: req.strategy,
        rounds: req.rounds,
        maxCostUsd: req.max_cost_usd,
        onDisconnect: req.on_disconnect,
        requestId: c.get("requestId"),
        traceContext: { traceparent: c.req.header("traceparent"), tracestate: c.req.header("tracestate") },
      };
      if (req.dry_run) return c.json(await deps.runner.dryRun(runRequest));
      // The greedy client hears 429 before everyone hears 503.
      const closeQuota = deps.streams.open(c.get("clientKey"));
      try {
        const existing = deps.registry.get(req.message_id);
        if (!existing?.inFlight && deps.overloaded()) {
          throw overloaded();
        }
        const { run } = await deps.runner.start(runRequest);
        return stream(c, run, 0, closeQuota);
      } catch (err) {
        closeQuota();
        throw err;
      }
    },
  );

  app.get("/api/process/:message_id/events", async (c) => {
    const header = c.req.header("last-event-id");
    const raw = header ?? c.req.query("last_event_id") ?? "0";
    const afterId = lastEventIdSchema.safeParse(raw.trim());
    if (!afterId.success) {
      throw invalidRequest(afterId.error, header !== undefined ? { name: "Last-Event-ID", in: "header" } : { name: "last_event_id", in: "query" });
    }
    const run = await deps.registry.open(c.req.param("message_id"));
    if (!run) throw new ApiError("run_not_found", "no such run, or it has expired");
    return stream(c, run, afterId.data, deps.streams.open(c.get("clientKey")));
  });

  app.delete("/api/process/:message_id", async (c) => {
    await deps.registry.cancel(c.req.param("message_id"));
    return c.json({ message_id: c.req.param("message_id"), status: "cancelling" }, 202);
  });

  return app;
}
