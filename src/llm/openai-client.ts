// LlmClient over the official `openai` SDK: any OpenAI-compatible server (OpenAI, Ollama, vLLM, LiteLLM).
import OpenAI from "openai";
import { CallError } from "../errors.js";
import { classifyError } from "./classify-error.js";
import { nodeFetch } from "./node-fetch.js";
import type { ChatChunk, ChatRequest, LlmClient } from "./llm-client.js";

export interface OpenAiClientOptions {
  baseURL: string;
  apiKey: string;
  maxRetries: number;
  /** Ask for a final usage chunk; some compatible servers reject `stream_options`. */
  streamUsage: boolean;
  /** Where the SDK's own warnings go; only their first argument is kept (raw chunks may hold anything). */
  log?: (msg: string) => void;
}

export function createOpenAiClient(opts: OpenAiClientOptions): LlmClient {
  // baseURL is always explicit: the SDK would otherwise read OPENAI_BASE_URL behind our back.
  // The SDK's own retries (429, 5xx, connection errors, honouring retry-after) happen only
  // before the stream starts, so no token is ever paid for twice.
  const log = (msg: unknown) => opts.log?.(String(msg));
  // One SDK client (and so one keep-alive connection pool) per endpoint and key.
  const clients = new Map<string, OpenAI>();
  const clientFor = (baseURL: string, apiKey: string) => {
    const id = `${baseURL}\u0000${apiKey}`;
    let c = clients.get(id);
    if (!c) {
      c = new OpenAI({ baseURL, apiKey, maxRetries: opts.maxRetries, fetch: nodeFetch, logger: { error: log, warn: log, info: () => {}, debug: () => {} } });
      clients.set(id, c);
    }
    return c;
  };

  return {
    async *stream(req: ChatRequest): AsyncGenerator<ChatChunk> {
      let produced = false;
      try {
        const { baseURL, apiKey } = req.endpoint ?? opts;
        const stream = await clientFor(baseURL, apiKey).chat.completions.create(
          {
            model: req.model,
            messages: req.messages,
            stream: true,
            ...(opts.streamUsage ? { stream_options: { include_usage: true } } : {}),
            ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
            ...(req.maxTokens !== undefined ? { max_tokens: req.maxTokens } : {}),
          },
          req.headers ? { signal: req.signal, headers: req.headers } : { signal: req.signal },
        );
        for await (const chunk of stream) {
          // The usage chunk has `choices: []`.
          const text = chunk.choices?.[0]?.delta?.content;
          if (text) {
            produced = true;
            yield { type: "delta", text };
          }
          if (chunk.usage) yield { type: "usage", usage: chunk.usage };
        }
      } catch (err) {
        if (req.signal.aborted) throw req.signal.reason;
        throw classifyError(err);
      }
      // An abort mid-stream may end the iterator quietly.
      if (req.signal.aborted) throw req.signal.reason;
      if (!produced) throw new CallError("bad_response", "upstream LLM returned an empty completion");
    },
  };
}
