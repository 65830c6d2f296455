// The run's contract: every event a run writes, by name, with its payload as a zod schema and a
// TypeScript type. The orchestration emits through `Emit` (a wrong payload is a type error), the
// event log and the Redis store carry `RunEvent`s, and the HTTP surfaces, the OpenAPI document,
// the CLI and the conversation runner read them by these types. Add a stage's events here.
import { z } from "zod";
import { CALL_ERROR_CODES, RUN_ERROR_CODES } from "../errors.js";

export const usageSchema = z
  .object({
    prompt_tokens: z.int(),
    completion_tokens: z.int(),
    total_tokens: z.int(),
    estimated: z.literal(true).optional().meta({ description: "Part of the figure is estimated (~4 characters a token): the upstream sent no count." }),
  })
  .meta({ description: "The upstream's count when it sent one, else an estimate of what was received." });
const costUsd = z.number().meta({ description: "Cost in USD, when the price table (PRICES_FILE) prices every model used." });
const callError = z.object({ code: z.enum(CALL_ERROR_CODES), message: z.string() });
const round = z.int().min(1).optional().meta({ description: "The mixture-of-agents round, when rounds > 1." });
const rankingEntry = z.object({ agent: z.string(), score: z.number().nullable(), reviews: z.int() });
export const analysisSchema = z.object({
  consensus: z.array(z.string()),
  contradictions: z.array(z.object({ topic: z.string(), positions: z.array(z.object({ agent: z.string(), stance: z.string() })) })),
  unique_insights: z.array(z.object({ agent: z.string(), insight: z.string() })),
  blind_spots: z.array(z.string()),
});

export const eventSchemas = {
  start: z.object({ message_id: z.string(), agents: z.array(z.string()) }).meta({ description: "First, always." }),
  agent_start: z.object({ agent: z.string(), round }).meta({ description: "An agent's upstream call begins." }),
  agent_delta: z.object({ agent: z.string(), delta: z.string(), round }).meta({ description: "Only with stream_agents: true." }),
  agent_done: z
    .object({ agent: z.string(), status: z.literal("ok"), output: z.string(), latency_ms: z.int(), usage: usageSchema.optional(), cost_usd: costUsd.optional(), round })
    .meta({ description: "An agent succeeded." }),
  agent_error: z
    .object({
      agent: z.string(),
      status: z.enum(["error", "timeout", "cancelled"]),
      error: callError,
      latency_ms: z.int(),
      usage: usageSchema.optional().meta({ description: "What the call consumed before it failed, when any token arrived." }),
      cost_usd: costUsd.optional(),
      round,
    })
    .meta({ description: "An agent failed." }),
  review_start: z.object({ reviewer: z.string() }).meta({ description: "council: a reviewer's call begins." }),
  review_done: z
    .object({ reviewer: z.string(), ranking: z.array(z.string()), latency_ms: z.int(), usage: usageSchema.optional(), cost_usd: costUsd.optional() })
    .meta({ description: "council: a review was parsed; ranking is agent names, best first." }),
  review_error: z
    .object({ reviewer: z.string(), error: callError, latency_ms: z.int(), usage: usageSchema.optional(), cost_usd: costUsd.optional() })
    .meta({ description: "council: a review failed or could not be parsed." }),
  ranking: z.object({ ranking: z.array(rankingEntry), reviewers: z.int() }).meta({ description: "council: the aggregate ranking, before the summary." }),
  analysis: analysisSchema.meta({ description: "fusion: the judge's analysis, before the summary." }),
  analysis_error: z.object({ error: callError }).meta({ description: "fusion: the judge failed; the summary is made without it." }),
  summary_delta: z.object({ delta: z.string() }).meta({ description: "Each summarizer token, as the upstream produces it." }),
  summary_restart: z.object({ reason: callError }).meta({ description: "The summary so far is void; a fallback summarizer starts over." }),
  takeover: z.object({ rerun: z.array(z.string()) }).meta({ description: "Another replica took the run over; these agents are called again." }),
  done: z
    .object({
      message_id: z.string(),
      status: z.enum(["ok", "partial"]),
      strategy: z.enum(["summarize", "council", "fusion"]).optional(),
      agents: z.object({ ok: z.int(), failed: z.int() }),
      summary: z.string(),
      usage: usageSchema.optional().meta({ description: "Every call of the run, failed and cancelled ones included." }),
      cost_usd: costUsd.optional(),
      ranking: z.array(rankingEntry).optional(),
      analysis: analysisSchema.optional(),
      degraded: z
        .object({ failed_agents: z.array(z.string()), skipped: z.array(z.string()) })
        .optional()
        .meta({ description: 'What the result lacks: agents that failed (last round), stages that were skipped ("review": fewer than two answers or no usable review; "judge": fewer than two answers or no valid analysis). Absent when it lacks nothing.' }),
      latency_ms: z.int(),
    })
    .meta({ description: "Last event of a successful run; partial when some agent failed." }),
  error: z
    .object({ code: z.enum(RUN_ERROR_CODES), message: z.string(), outputs: z.record(z.string(), z.string()).optional() })
    .meta({ description: "Last event of a failed run; outputs holds the answers that were paid for, when any." }),
} as const;

export type EventName = keyof typeof eventSchemas;
export type EventData<E extends EventName> = z.infer<(typeof eventSchemas)[E]>;

/** One logged event: its id within the run, its name and payload, and its SSE frame (serialized once). */
export type RunEvent = { [E in EventName]: { id: number; event: E; data: EventData<E>; frame: string } }[EventName];

export type Emit = <E extends EventName>(event: E, data: EventData<E>) => void;

export const TERMINAL_EVENTS: ReadonlySet<EventName> = new Set(["done", "error"]);

/** The SSE frame of an event. */
export const sseFrame = (id: number, event: EventName, data: unknown) => `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** An event as the log holds it. `data` must already match its schema (written by this service). */
export const runEvent = (id: number, event: EventName, data: unknown) => ({ id, event, data, frame: sseFrame(id, event, data) }) as RunEvent;

/** Checks an event read from outside (a recording, a peer) against its schema; throws a ZodError naming the field. */
export function parseEvent(id: number, event: string, data: unknown): RunEvent {
  const schema = eventSchemas[event as EventName];
  if (!schema) throw new Error(`unknown event "${event}"`);
  schema.parse(data);
  return runEvent(id, event as EventName, data);
}
