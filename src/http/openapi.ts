// Builds the OpenAPI 3.1 document of every route in the contract (API.md). Request bodies and
// parameters are converted from the very zod schemas that validate them (z.toJSONSchema), so
// the document cannot drift from the validation; response and SSE event shapes are described
// here with zod as well. SSE has no standard form in OpenAPI 3.1: each stream's events are
// listed in its description and, as schemas, under the vendor extension `x-sse-events`.
import { z } from "zod";
import {
  bearer,
  chorusError,
  dryRun,
  errorEnvelope,
  json,
  jsonSchema,
  openAiError,
  presetList,
  rateLimitHeaders,
  ready,
  ref,
  retryAfter,
  sseEvents,
  sseResponse,
  turn,
  type JsonSchema,
} from "./openapi-parts.js";
import {
  chatCompletionChunkSchema,
  chatCompletionRequestSchema,
  chatCompletionSchema,
  modelListSchema,
  modelSchema,
  openAiErrorSchema,
} from "./openai-schemas.js";
import { idSchema, lastEventIdSchema, processRequestSchema } from "./request-schemas.js";

export interface OpenApiOptions {
  maxMessageChars: number;
  agentNames: string[];
  /** The presets a request may name (default: only "default"). */
  presetNames?: string[];
  version: string;
}


export function openApiDocument(opts: OpenApiOptions) {
  const schemas: Record<string, JsonSchema> = {
    ProcessRequest: jsonSchema(processRequestSchema(opts.maxMessageChars, opts.agentNames, opts.presetNames), "input"),
    DryRun: jsonSchema(dryRun),
    PresetList: jsonSchema(presetList),
    ErrorEnvelope: jsonSchema(errorEnvelope),
    Conversation: jsonSchema(z.object({ conversation_id: z.string(), turns: z.array(turn) })),
    Ready: jsonSchema(ready),
    ChatCompletionRequest: jsonSchema(chatCompletionRequestSchema(opts.maxMessageChars), "input"),
    ChatCompletion: jsonSchema(chatCompletionSchema),
    ChatCompletionChunk: jsonSchema(chatCompletionChunkSchema),
    Model: jsonSchema(modelSchema),
    ModelList: jsonSchema(modelListSchema),
    OpenAIError: jsonSchema(openAiErrorSchema),
    ...Object.fromEntries(Object.entries(sseEvents).map(([name, s]) => [`SseEvent_${name}`, jsonSchema(s)])),
  };
  const messageIdParam = { name: "message_id", in: "path", required: true, schema: jsonSchema(idSchema, "input") };
  const conversationIdParam = { name: "conversation_id", in: "path", required: true, schema: jsonSchema(idSchema, "input") };

  const paths = {
    "/api/process": {
      post: {
        tags: ["runs"],
        summary: "Start a run (or join the same one in flight) and stream its events",
        description:
          "Fans the message out to the agents, tolerates the ones that fail, and streams the summary. A second POST " +
          "with the same message_id and message while the run is in flight follows the same run from its first event. " +
          "Costs one rate-limit point, valid or not. `preset`, `strategy` and `rounds` pick how the answers are combined " +
          "(GET /api/presets); `dry_run: true` answers the plan and its worst-case cost as JSON instead, calling nothing; " +
          "`max_cost_usd` refuses (402) a run whose worst-case cost is above it, and stops one whose measured cost passes it " +
          "(`error` budget_exceeded).",
        security: bearer,
        requestBody: { required: true, content: json(ref("ProcessRequest")) },
        responses: {
          "200": {
            ...sseResponse("The run's events; headers are sent at once, before any LLM has answered. With dry_run: the plan as JSON."),
            content: { ...sseResponse("").content, ...json(ref("DryRun")) },
          },
          "400": chorusError("invalid_json (empty or not JSON) or invalid_request (details name each field; also an unknown preset, or max_cost_usd with a model that has no price)."),
          "401": chorusError("unauthorized: API keys are configured and no valid Bearer key was given."),
          "402": chorusError("budget_exceeded: the run's worst-case cost is above max_cost_usd; details hold {estimate_usd, max_cost_usd}. Nothing was called."),
          "409": chorusError("message_id_conflict: a run with this message_id is in flight with a different message."),
          "413": chorusError("payload_too_large: body over MAX_BODY_BYTES."),
          "415": chorusError("unsupported_media_type: Content-Type is not application/json."),
          "429": { ...chorusError("rate_limited."), headers: { ...rateLimitHeaders, ...retryAfter } },
          "503": chorusError("overloaded (too many runs queued) or shutting_down."),
        },
      },
    },
    "/api/process/{message_id}/events": {
      get: {
        tags: ["runs"],
        summary: "Replay a run's events after Last-Event-ID, then follow it live until it ends",
        security: bearer,
        parameters: [
          messageIdParam,
          { name: "Last-Event-ID", in: "header", description: "Wins over the query.", schema: jsonSchema(lastEventIdSchema, "input") },
          { name: "last_event_id", in: "query", schema: jsonSchema(lastEventIdSchema, "input") },
        ],
        responses: {
          "200": sseResponse("The run's events after the given id."),
          "400": chorusError("invalid_request: the event id is not a non-negative integer."),
          "401": chorusError("unauthorized."),
          "404": chorusError("run_not_found: unknown or expired run."),
        },
      },
    },
    "/api/process/{message_id}": {
      delete: {
        tags: ["runs"],
        summary: "Cancel a run in flight; it ends with an `error` event, code cancelled",
        security: bearer,
        parameters: [messageIdParam],
        responses: {
          "202": {
            description: "Cancelling.",
            content: json(jsonSchema(z.object({ message_id: z.string(), status: z.literal("cancelling") }))),
          },
          "401": chorusError("unauthorized."),
          "404": chorusError("run_not_found."),
          "409": chorusError("run_finished: the run had already ended."),
        },
      },
    },
    "/api/presets": {
      get: {
        tags: ["runs"],
        summary: "The presets a request (field preset) or a /v1 model (chorus/<preset>) may pick",
        security: bearer,
        responses: { "200": { description: "Every preset, default included.", content: json(ref("PresetList")) }, "401": chorusError("unauthorized.") },
      },
    },
    "/api/conversations/{conversation_id}": {
      get: {
        tags: ["conversations"],
        summary: "A conversation's turns, oldest first",
        security: bearer,
        parameters: [conversationIdParam],
        responses: {
          "200": { description: "The conversation.", content: json(ref("Conversation")) },
          "401": chorusError("unauthorized."),
          "404": chorusError("conversation_not_found."),
        },
      },
      delete: {
        tags: ["conversations"],
        summary: "Forget a conversation; the next run with its id starts afresh",
        security: bearer,
        parameters: [conversationIdParam],
        responses: { "204": { description: "Forgotten." }, "401": chorusError("unauthorized.") },
      },
    },
    "/health": {
      get: {
        tags: ["operations"],
        summary: "Liveness",
        responses: { "200": { description: "The process lives.", content: json(jsonSchema(z.object({ status: z.literal("ok") }))) } },
      },
    },
    "/ready": {
      get: {
        tags: ["operations"],
        summary: "Readiness: prompts loaded and every backing service answering",
        responses: {
          "200": { description: "Ready.", content: json(ref("Ready")) },
          "503": { description: "Unready (a check failed, or draining for shutdown).", content: json(ref("Ready")) },
        },
      },
    },
    "/metrics": {
      get: {
        tags: ["operations"],
        summary: "Prometheus metrics, names prefixed chorus_",
        description: "With METRICS_TOKEN set, only for `Authorization: Bearer <METRICS_TOKEN>`.",
        responses: {
          "200": { description: "Prometheus text format.", content: { "text/plain": { schema: { type: "string" } } } },
          "401": chorusError("unauthorized: METRICS_TOKEN is set and the request has no valid Bearer token."),
        },
      },
    },
    "/v1/models": {
      get: {
        tags: ["openai"],
        summary: "List models: chorus (the default preset) and chorus/<preset> for every preset",
        security: bearer,
        responses: {
          "200": { description: "The model list.", content: json(ref("ModelList")) },
          "401": openAiError("unauthorized."),
        },
      },
    },
    "/v1/models/{model}": {
      get: {
        tags: ["openai"],
        summary: "Retrieve a model",
        security: bearer,
        parameters: [{ name: "model", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          "200": { description: "The model.", content: json(ref("Model")) },
          "401": openAiError("unauthorized."),
          "404": openAiError("model_not_found."),
        },
      },
    },
    "/v1/chat/completions": {
      post: {
        tags: ["openai"],
        summary: "Run the panel as an OpenAI chat completion",
        description:
          "Runs the same fan-out on the last message (which must be the user's); earlier messages are context for every " +
          "agent and the summarizer. The content is exactly the run's summary. With `stream: true` the answer is " +
          "`chat.completion.chunk` events (`data: {…}`, no event names): a first chunk with the role, one per summary " +
          "token, a last one with finish_reason stop, a usage chunk (`choices: []`) with stream_options.include_usage, " +
          "then `data: [DONE]`. A run that fails while streaming ends with one `data: {\"error\":{…}}` chunk (OpenAI's " +
          "error shape, code from the run's error event) and no [DONE]. Without streaming, a failed run answers 502 " +
          "(all_agents_failed, not_enough_agents, summarizer_failed), 409 (cancelled) or 503 (shutting_down), with " +
          "`x-should-retry: false` except for 503. The response header X-Chorus-Message-Id names the run: " +
          "GET /api/process/{message_id}/events shows its agents at work, DELETE cancels it. Costs one rate-limit point.",
        security: bearer,
        requestBody: { required: true, content: json(ref("ChatCompletionRequest")) },
        responses: {
          "200": {
            description: "A chat completion, or with stream: true its chunks.",
            headers: { ...rateLimitHeaders, "X-Chorus-Message-Id": { description: "The run's message_id.", schema: { type: "string" } } },
            content: {
              ...json(ref("ChatCompletion")),
              "text/event-stream": {
                schema: { type: "string", description: "`data: <ChatCompletionChunk>` frames, then `data: [DONE]`." },
                "x-sse-events": { message: ref("ChatCompletionChunk"), error: ref("OpenAIError") },
              },
            },
          },
          "400": openAiError("invalid_json or invalid_request; param names the field."),
          "401": openAiError("unauthorized."),
          "402": openAiError("budget_exceeded: the preset's max_cost_usd is below the run's worst-case cost, or (non-streaming) the run's measured cost passed it."),
          "404": openAiError("model_not_found: the model is neither chorus nor chorus/<preset>."),
          "409": openAiError("cancelled: the run was cancelled (non-streaming)."),
          "413": openAiError("payload_too_large."),
          "415": openAiError("unsupported_media_type."),
          "429": { ...openAiError("rate_limited."), headers: { ...rateLimitHeaders, ...retryAfter } },
          "502": openAiError("The run failed (non-streaming): all_agents_failed, not_enough_agents or summarizer_failed."),
          "503": openAiError("overloaded or shutting_down."),
        },
      },
    },
    "/openapi.json": {
      get: { tags: ["docs"], summary: "This document", responses: { "200": { description: "OpenAPI 3.1 JSON." } } },
    },
    "/docs": {
      get: { tags: ["docs"], summary: "This document as an HTML page", responses: { "200": { description: "HTML." } } },
    },
  };

  return {
    openapi: "3.1.0",
    info: {
      title: "Chorus",
      version: opts.version,
      description:
        "Fans a message out to several LLM agents, tolerates their failures, and streams one synthesized answer over " +
        "SSE. Also speaks OpenAI's chat completions API (model `chorus`, or `chorus/<preset>`). With API_KEYS set, /api/* and /v1/* need " +
        "`Authorization: Bearer <key>`. /api/* errors use ErrorEnvelope, /v1/* errors OpenAIError.",
    },
    tags: [
      { name: "runs", description: "Start, resume and cancel runs." },
      { name: "conversations", description: "Multi-turn conversations (conversation_id)." },
      { name: "openai", description: "The OpenAI-compatible surface." },
      { name: "operations", description: "Health, readiness, metrics." },
      { name: "docs", description: "This documentation." },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "One of API_KEYS; needed only when it is set." } },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof openApiDocument>;
