// The one seam between the orchestration and any LLM: stream a chat completion.
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatRequest {
  /** Who is calling (an agent's name, or "summarizer"): for the mock and for logs. */
  caller: string;
  model: string;
  /** Another OpenAI-compatible endpoint than the default one (per-agent providers). */
  endpoint?: { baseURL: string; apiKey: string };
  messages: ChatMessage[];
  temperature?: number;
  maxTokens?: number;
  signal: AbortSignal;
  /** The caller only keeps the whole text: deltas that arrive together may be yielded joined. */
  coalesce?: boolean;
  /** Extra HTTP headers for the upstream request (the trace context: `traceparent`). */
  headers?: Record<string, string>;
}

export type ChatChunk = { type: "delta"; text: string } | { type: "usage"; usage: Usage };

/**
 * Yields text deltas as the upstream produces them, then at most one usage chunk.
 * Failures are thrown as CallError (see classify-error.ts), aborts as the signal's reason.
 */
export interface LlmClient {
  stream(req: ChatRequest): AsyncIterable<ChatChunk>;
}

/** A call's usage as Chorus counts it: `estimated` when part of it is our estimate (run/usage.ts). */
export interface CountedUsage extends Usage {
  estimated?: true;
  /** Hedged calls (LLM_HEDGE) among those counted: each sent a second, paid request. */
  hedged_calls?: number;
}
