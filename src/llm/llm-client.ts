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

export type OnChunk = (chunk: ChatChunk) => void;

/**
 * Calls `onChunk` with each text delta as the upstream produces it, then at most once with the
 * usage, and resolves when the call has ended. Pushed, not pulled: nothing is allocated per token
 * between the socket and the run (an async iterator costs two promises a token). Failures reject
 * as CallError (see classify-error.ts), aborts with the signal's reason; an `onChunk` that throws
 * fails the call with its error.
 */
export interface LlmClient {
  stream(req: ChatRequest, onChunk: OnChunk): Promise<void>;
}

/** For clients written as async generators (the mock, replay, tests): each chunk pushed as it is yielded. */
export async function pushEach(chunks: AsyncIterable<ChatChunk>, onChunk: OnChunk): Promise<void> {
  for await (const chunk of chunks) onChunk(chunk);
}

/** A call's usage as Chorus counts it: `estimated` when part of it is our estimate (run/usage.ts). */
export interface CountedUsage extends Usage {
  estimated?: true;
  /** Hedged calls (LLM_HEDGE) among those counted: each sent a second, paid request. */
  hedged_calls?: number;
}
