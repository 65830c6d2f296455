// The reusable pieces of the OpenAPI document (openapi.ts): zod → JSON Schema, the shared
// response shapes (error envelope, conversation turn, readiness) and headers, the SSE response.
import { z } from "zod";
import { REQUEST_ERROR_CODES } from "../errors.js";
import { eventSchemas } from "../run/events.js";

export type JsonSchema = Record<string, unknown>;

/** A zod schema as an OpenAPI 3.1 (JSON Schema 2020-12) schema object. */
export function jsonSchema(schema: z.ZodType, io: "input" | "output" = "output"): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  return rest;
}

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

// The SSE events' shapes are the run's contract itself (run/events.ts).
export const sseEvents = eventSchemas;

const SSE_DESCRIPTION = [
  "A `text/event-stream`. Every event has `id:` (1, 2, 3 … within the run), `event:` and one `data:` line of JSON;",
  "a comment line `: ping` is sent whenever nothing else was sent for SSE_HEARTBEAT_MS.",
  "Events, in order: `start`; per agent `agent_start`, `agent_delta`* (only with stream_agents), then `agent_done` or",
  "`agent_error` (with `rounds` > 1, once per round, each carrying `round`); council: per reviewer `review_start`, then",
  "`review_done` or `review_error`, then `ranking`; fusion: `analysis` or `analysis_error`; `summary_delta`*",
  "(`summary_restart` when a fallback summarizer starts over); finally exactly one `done` or `error`, after which the stream closes.",
  "The data of each event is described under `x-sse-events` and in components/schemas/SseEvent_*.",
].join(" ");

export const errorEnvelope = z
  .object({
    error: z.object({
      code: z.enum(REQUEST_ERROR_CODES),
      message: z.string(),
      details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    }),
  })
  .meta({ description: "Every error of /api/* and the operational routes: JSON, never HTML or a stack trace." });

export const turn = z.object({
  message_id: z.string(),
  message: z.string(),
  summary: z.string(),
  status: z.enum(["ok", "partial"]),
  created_at: z.string(),
});

export const ready = z.object({
  status: z.enum(["ready", "unready"]),
  checks: z.record(z.string(), z.string()).meta({ description: 'Each check: "ok…" or why it failed.' }),
});

// --- Reusable pieces of operations. ---
export const json = (schema: JsonSchema) => ({ "application/json": { schema } });
export const chorusError = (description: string) => ({ description, content: json(ref("ErrorEnvelope")) });
export const openAiError = (description: string) => ({ description, content: json(ref("OpenAIError")) });
export const bearer = [{ bearer: [] }];

export const rateLimitHeaders = {
  "RateLimit-Limit": { description: "Points per window.", schema: { type: "integer" } },
  "RateLimit-Remaining": { description: "Points left in this window.", schema: { type: "integer" } },
  "RateLimit-Reset": { description: "Seconds until the window resets.", schema: { type: "integer" } },
};
export const retryAfter = { "Retry-After": { description: "Whole seconds to wait, at least 1.", schema: { type: "integer" } } };

export const sseResponse = (description: string) => ({
  description,
  headers: rateLimitHeaders,
  content: {
    "text/event-stream": {
      schema: { type: "string", description: SSE_DESCRIPTION },
      "x-sse-events": Object.fromEntries(Object.keys(sseEvents).map((e) => [e, ref(`SseEvent_${e}`)])),
    },
  },
});

const strategy = z.enum(["summarize", "council", "fusion"]);

export const dryRun = z
  .object({
    plan: z.object({
      preset: z.string(),
      strategy,
      rounds: z.int(),
      agents: z.array(z.string()),
      calls: z.int().meta({ description: "Upstream calls the plan can make (fallbacks not counted)." }),
    }),
    estimate: z.object({
      prompt_tokens: z.int(),
      completion_tokens: z.int(),
      cost_usd: z.number().nullable().meta({ description: "The worst case in USD; null when some model of the plan has no price (PRICES_FILE)." }),
    }),
  })
  .meta({ description: "dry_run: the plan and its worst-case cost; no LLM was called and no run created." });

export const presetList = z.object({
  default: z.string().meta({ description: "DEFAULT_PRESET: the preset of a request that names none." }),
  presets: z.array(
    z.object({
      name: z.string(),
      description: z.string().meta({ description: "What it costs and when to pick it." }),
      strategy,
      rounds: z.int(),
      agents: z.array(z.string()),
      fanout_deadline_ms: z.int().optional(),
      min_agents_ok: z.int().optional(),
      max_cost_usd: z.number().optional(),
    }),
  ),
});
