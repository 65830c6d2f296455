// /v1: the OpenAI-compatible surface. A chat completion is one Chorus run under a fresh
// `chatcmpl-…` message_id; the run's summary is the completion's content, streamed as
// `chat.completion.chunk` events or answered whole. Errors take OpenAI's shape (openai-errors.ts).
import { randomBytes } from "node:crypto";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { Hono } from "hono";
import { ApiError, overloaded } from "../errors.js";
import type { EventData, RunEvent } from "../run/events.js";
import type { RunHandle, RunRegistry } from "../run/run-registry.js";
import type { Runner } from "../run/runner.js";
import type { AppEnv } from "./app-env.js";
import { invalidRequest } from "./errors.js";
import { openAiErrorBody, runErrorStatus } from "./openai-errors.js";
import { CHORUS_MODEL, chatCompletionRequestSchema, modelIds, presetOfModel, toRunInput } from "./openai-schemas.js";
import { jsonBodyLimit, readJson } from "./process-routes.js";
import { sendSse } from "./stream-response.js";
import { CLIENT_GONE, type SseSource } from "./sse-writer.js";
import type { StreamQuota } from "./stream-quota.js";

export interface OpenAiRoutesDeps {
  registry: RunRegistry;
  runner: Runner;
  /** The same per-client bound as /api/process: a completion holds a socket for a whole run. */
  streams: StreamQuota;
  maxMessageChars: number;
  maxBodyBytes: number;
  heartbeatMs: number;
  writeTimeoutMs: number;
  /** True when too many runs wait for upstream capacity. */
  overloaded: () => boolean;
  /** Served as models `chorus/<preset>`. */
  presetNames?: string[];
}

// A fixed date: the models do not change when the process restarts.
const modelEntry = (id: string) => ({ id, object: "model", created: 1_735_689_600, owned_by: "chorus" }) as const;

/** Names the run behind a completion: GET /api/process/{id}/events shows its agents at work. */
const RUN_ID_HEADER = "X-Chorus-Message-Id";

const frame = (body: unknown) => `data: ${JSON.stringify(body)}\n\n`;

/**
 * The run as OpenAI chunks: a first chunk with the role, one per summary token as it comes, a
 * last chunk with an empty delta and finish_reason "stop" (as OpenAI sends it: holding a token
 * back to mark it last would delay every stream by a token), the usage chunk if asked, then
 * [DONE]. A failed run, or a summary restarted after this stream carried some of it (text sent
 * cannot be taken back here), ends with an error object in a data line and no [DONE], which the
 * openai SDKs raise as an APIError.
 */
export function completionChunks(run: Pick<RunHandle, "log">, c: CompletionMeta): SseSource {
  // With include_usage OpenAI sends `usage: null` on every chunk but the usage one.
  const chunk = (delta: object, finish: "stop" | null = null) =>
    frame({
      id: c.id,
      object: "chat.completion.chunk",
      created: c.created,
      model: c.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(c.includeUsage ? { usage: null } : {}),
    });
  let ended = false;
  let sent = false; // some summary text went out
  const translate = (e: RunEvent): string => {
    if (ended) return "";
    if (e.event === "summary_delta") {
      sent = true;
      return chunk({ content: e.data.delta });
    }
    if (e.event === "summary_restart" && !sent) return ""; // nothing to take back
    if (e.event === "done") {
      ended = true;
      const usage = e.data.usage ?? null;
      const usageChunk = c.includeUsage ? frame({ id: c.id, object: "chat.completion.chunk", created: c.created, model: c.model, choices: [], usage }) : "";
      return chunk({}, "stop") + usageChunk + "data: [DONE]\n\n";
    }
    if (e.event === "error" || e.event === "summary_restart") {
      ended = true;
      const { code, message } = e.event === "error" ? e.data : summaryRestarted(e.data);
      return frame(openAiErrorBody(runErrorStatus(code).status, code, message));
    }
    return ""; // agent progress: not part of a chat completion
  };
  return async function* (gone) {
    yield chunk({ role: "assistant", content: "" });
    for await (const batch of run.log.follow(0, gone)) {
      const text = batch.map(translate).join("");
      if (text) yield text;
      if (ended) return; // after an error nothing more belongs to this completion
    }
  };
}

export interface CompletionMeta {
  id: string;
  created: number;
  model: string;
  includeUsage: boolean;
}

/** The summarizer failed after streaming and another one starts over: the text sent is void. */
function summaryRestarted({ reason }: EventData<"summary_restart">): { code: string; message: string } {
  const why = ` (${reason.code}${reason.message ? `: ${reason.message}` : ""})`;
  return {
    code: "summary_restart",
    message: `the summary was restarted after its first tokens${why}; a chat completion cannot take text back: ask again, or use /api/process, which shows the restart`,
  };
}

export function openAiRoutes(deps: OpenAiRoutesDeps) {
  const schema = chatCompletionRequestSchema(deps.maxMessageChars);
  const app = new Hono<AppEnv>();

  const presets = deps.presetNames ?? [];
  const models = modelIds(presets);
  app.get("/v1/models", (c) => c.json({ object: "list", data: models.map(modelEntry) }));
  // {.+}: a preset's model id holds a slash (chorus/council).
  app.get("/v1/models/:model{.+}", (c) => {
    const model = c.req.param("model");
    if (!models.includes(model)) throw modelNotFound(model, models);
    return c.json(modelEntry(model));
  });

  app.post(
    "/v1/chat/completions",
    jsonBodyLimit(deps.maxBodyBytes),
    async (c) => {
      const parsed = schema.safeParse(await readJson(c));
      if (!parsed.success) throw invalidRequest(parsed.error);
      const req = parsed.data;
      const preset = presetOfModel(req.model, presets);
      if (preset === null) throw modelNotFound(req.model, models);
      if (deps.overloaded()) {
        throw overloaded();
      }

      const id = `chatcmpl-${randomBytes(18).toString("base64url")}`;
      const created = Math.floor(Date.now() / 1000);
      const closeQuota = deps.streams.open(c.get("clientKey"));
      // A fresh id never joins nor conflicts with another run; start fails only when Redis is down.
      const traceContext = { traceparent: c.req.header("traceparent"), tracestate: c.req.header("tracestate") };
      const { run } = await deps.runner.start({ messageId: id, ...toRunInput(req), preset, streamAgents: false, requestId: c.get("requestId"), traceContext }).catch((e) => {
        closeQuota();
        throw e;
      });
      // Counted as a follower at once: when this client leaves, the registry cancels the run.
      const followed = deps.registry.follow(run);
      const release = () => {
        followed();
        closeQuota();
      };

      if (req.stream) {
        const chunks = completionChunks(run, { id, created, model: req.model, includeUsage: req.stream_options?.include_usage === true });
        return sendSse(c, chunks, { heartbeatMs: deps.heartbeatMs, writeTimeoutMs: deps.writeTimeoutMs }, release, { [RUN_ID_HEADER]: id });
      }

      // Nothing is sent until the run ends, so a client leaving shows only as the socket closing.
      const gone = new AbortController();
      const onClose = () => gone.abort(CLIENT_GONE);
      c.env.outgoing.once("close", onClose);
      let end: RunEvent | undefined;
      try {
        for await (const batch of run.log.follow(0, gone.signal)) {
          end = batch.find((e) => e.event === "done" || e.event === "error") ?? end;
        }
      } finally {
        c.env.outgoing.off("close", onClose);
        release();
      }
      if (gone.signal.aborted) return RESPONSE_ALREADY_SENT; // no one is left to answer
      c.header(RUN_ID_HEADER, id);

      if (end?.event !== "done") {
        const { code, message } = end?.event === "error" ? end.data : { code: "internal_error", message: "internal error" };
        const { status, retry } = runErrorStatus(code);
        if (!retry) c.header("x-should-retry", "false"); // honoured by the openai SDKs
        if (status === 503) c.header("Retry-After", "5");
        return c.json(openAiErrorBody(status, code, message), status as 500);
      }
      const { summary, usage } = end.data;
      return c.json({
        id,
        object: "chat.completion",
        created,
        model: req.model,
        choices: [{ index: 0, message: { role: "assistant", content: summary, refusal: null }, logprobs: null, finish_reason: "stop" }],
        ...(usage ? { usage } : {}),
      });
    },
  );

  return app;
}

function modelNotFound(model: string, models: string[]): ApiError {
  const shown = JSON.stringify(model.slice(0, 100));
  return new ApiError("model_not_found", `the model ${shown} does not exist; this server serves ${models.map((m) => `"${m}"`).join(", ")} (GET /v1/models)`, [
    { field: "model", message: "unknown model" },
  ]);
}
