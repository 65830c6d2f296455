// The zod schemas of the OpenAI-compatible surface: the chat completion request (which
// validates bodies and, through z.toJSONSchema, documents them) and the response shapes.
import { z } from "zod";
import type { ChatMessage } from "../llm/llm-client.js";
import { codePoints } from "./request-schemas.js";

/** The model Chorus serves: the whole panel behind one name (the default preset). */
export const CHORUS_MODEL = "chorus";

/** The model ids served: `chorus` and `chorus/<preset>` for every preset. */
export const modelIds = (presets: string[]) => [CHORUS_MODEL, ...presets.map((p) => `${CHORUS_MODEL}/${p}`)];

/** The preset a model id names: undefined for `chorus` (the default preset), null for an unknown model. */
export function presetOfModel(model: string, presets: string[]): string | undefined | null {
  if (model === CHORUS_MODEL) return undefined;
  const name = model.startsWith(`${CHORUS_MODEL}/`) ? model.slice(CHORUS_MODEL.length + 1) : "";
  return presets.includes(name) ? name : null;
}

const textPart = z.object(
  { type: z.literal("text", { error: "only text content parts are supported (no images, audio or files)" }), text: z.string() },
);

const chatMessage = z.looseObject({
  // Tool calling is not supported: a `tool` turn has nothing to feed an agent.
  role: z.enum(["system", "developer", "user", "assistant"], {
    error: "must be system, developer, user or assistant (tool messages are not supported)",
  }),
  // null: an assistant turn that only called tools.
  content: z
    .union([z.string(), z.array(textPart)], { error: "must be a string or an array of text parts" })
    .nullish(),
  name: z.string().optional(),
});

type ChatMessageIn = z.infer<typeof chatMessage>;

/** Text of a message: text parts are joined by newlines; a null content is empty. */
export function messageText(m: Pick<ChatMessageIn, "content">): string {
  if (typeof m.content === "string") return m.content;
  return (m.content ?? []).map((p) => p.text).join("\n");
}

// A client that relies on tool calls must hear so, not receive prose it takes for an answer.
const NO_TOOLS = "tool calling is not supported: Chorus answers with text only";

/**
 * The request body of POST /v1/chat/completions. Unknown fields (temperature, max_tokens, …)
 * are accepted and ignored: each agent's sampling settings come from its prompt file.
 */
export function chatCompletionRequestSchema(maxChars: number) {
  return z
    .looseObject({
      model: z.string().min(1, "must name a model").meta({ description: `"${CHORUS_MODEL}" (the default preset) or "${CHORUS_MODEL}/<preset>" (GET /v1/models lists them).` }),
      messages: z
        .array(chatMessage)
        .min(1, "must hold at least one message")
        .meta({
          description:
            "The conversation. The last message must be from the user: it is the question. " +
            "Earlier messages (system, developer, user, assistant) are given to every agent and " +
            "the summarizer as context, in order, after their own system prompt.",
        }),
      stream: z.boolean().nullish().meta({ description: "Answer as `chat.completion.chunk` server-sent events." }),
      stream_options: z
        .object({ include_usage: z.boolean().optional() })
        .nullish()
        .meta({ description: "With `include_usage: true`, a last chunk with `choices: []` carries the run's usage." }),
      n: z.literal(1, { error: "only n = 1 is supported: the run gives one answer" }).nullish().meta({ description: "Must be 1 when given." }),
      tools: z.array(z.unknown()).max(0, NO_TOOLS).nullish().meta({ description: "Not supported: a non-empty list is refused." }),
      tool_choice: z.literal("none", { error: NO_TOOLS }).nullish().meta({ description: 'Not supported: anything but "none" is refused.' }),
      functions: z.array(z.unknown()).max(0, NO_TOOLS).nullish().meta({ description: "Not supported (the older form of tools)." }),
      function_call: z.literal("none", { error: NO_TOOLS }).nullish().meta({ description: "Not supported (the older form of tool_choice)." }),
    })
    .superRefine((body, ctx) => {
      const i = body.messages.length - 1;
      const last = body.messages[i];
      if (!last) return;
      if (last.role !== "user") {
        ctx.addIssue({ code: "custom", path: ["messages", i, "role"], message: "the last message must be from the user" });
        return;
      }
      const text = messageText(last);
      if (!text.trim()) ctx.addIssue({ code: "custom", path: ["messages", i, "content"], message: "must not be empty" });
      else if (codePoints(text) > maxChars) {
        ctx.addIssue({ code: "custom", path: ["messages", i, "content"], message: `must be at most ${maxChars} characters` });
      }
    });
}

export type ChatCompletionRequest = z.infer<ReturnType<typeof chatCompletionRequestSchema>>;

/** Splits a validated request into the question and the context the agents see before it. */
export function toRunInput(req: ChatCompletionRequest): { message: string; history: ChatMessage[] } {
  const history: ChatMessage[] = [];
  for (const m of req.messages.slice(0, -1)) {
    const content = messageText(m);
    // Empty turns (an assistant turn that only called tools) say nothing to an agent.
    if (content.trim()) history.push({ role: m.role === "developer" ? "system" : m.role, content });
  }
  return { message: messageText(req.messages[req.messages.length - 1]!), history };
}

// Response shapes: not used to validate anything, they document /v1/* in /openapi.json.
const usage = z.object({ prompt_tokens: z.int(), completion_tokens: z.int(), total_tokens: z.int() });

export const openAiErrorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string().meta({ description: "invalid_request_error, authentication_error, rate_limit_error or server_error" }),
      param: z.string().nullable().meta({ description: "The request field at fault, if any." }),
      code: z.string().meta({ description: "The contract's error code (invalid_request, model_not_found, rate_limited, …)." }),
    }),
  })
  .meta({ description: "OpenAI's error shape, used by every /v1/* error." });

export const modelSchema = z.object({
  id: z.string().meta({ description: `"${CHORUS_MODEL}" or "${CHORUS_MODEL}/<preset>".` }),
  object: z.literal("model"),
  created: z.int(),
  owned_by: z.string(),
});

export const modelListSchema = z.object({ object: z.literal("list"), data: z.array(modelSchema) });

export const chatCompletionSchema = z.object({
  id: z.string().meta({ description: "chatcmpl-…; also the run's message_id (header X-Chorus-Message-Id)." }),
  object: z.literal("chat.completion"),
  created: z.int(),
  model: z.string().meta({ description: "The model asked for." }),
  choices: z.array(
    z.object({
      index: z.literal(0),
      message: z.object({ role: z.literal("assistant"), content: z.string(), refusal: z.null() }),
      logprobs: z.null(),
      finish_reason: z.literal("stop"),
    }),
  ),
  usage: usage.optional().meta({ description: "Summed over every agent and the summarizer; absent when the upstream reports none." }),
});

export const chatCompletionChunkSchema = z.object({
  id: z.string(),
  object: z.literal("chat.completion.chunk"),
  created: z.int(),
  model: z.string().meta({ description: "The model asked for." }),
  choices: z.array(
    z.object({
      index: z.literal(0),
      delta: z.object({ role: z.literal("assistant").optional(), content: z.string().optional() }),
      logprobs: z.null(),
      finish_reason: z.literal("stop").nullable(),
    }),
  ),
  usage: usage.nullish(),
});
