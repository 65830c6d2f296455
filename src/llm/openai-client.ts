// LlmClient over the official `openai` SDK: any OpenAI-compatible server (OpenAI, Ollama, vLLM, LiteLLM).
import type { IncomingMessage } from "node:http";
import { createParser } from "eventsource-parser";
import OpenAI from "openai";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
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

/** Far above any real chunk (one token, or a usage record): beyond it the stream is not SSE. */
const MAX_EVENT_CHARS = 1 << 20;

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
        // The SDK makes the request (headers, retries, HTTP errors as APIError); its raw response
        // (`asResponse`, a documented SDK call) is read here. The body is the IncomingMessage of
        // nodeFetch, the SDK's transport above.
        const response = await clientFor(baseURL, apiKey)
          .chat.completions.create(
            {
              model: req.model,
              messages: req.messages,
              stream: true,
              ...(opts.streamUsage ? { stream_options: { include_usage: true } } : {}),
              ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
              ...(req.maxTokens !== undefined ? { max_tokens: req.maxTokens } : {}),
            },
            req.headers ? { signal: req.signal, headers: req.headers } : { signal: req.signal },
          )
          .asResponse();
        // The SSE body is parsed here with eventsource-parser, a push parser fed once per
        // network read, where the SDK's own Stream runs three nested async generators per event
        // (in the benchmark, the largest share of CPU per run). Read on after [DONE] to the
        // body's end (as the SDK does): leaving early would close a keep-alive connection.
        let done = false;
        let batch: string[] = [];
        const parser = createParser({ onEvent: (e) => batch.push(e.data) });
        const body = response.body as unknown as IncomingMessage;
        body.setEncoding("utf8");
        let unparsed = 0; // characters since the last complete event
        for await (const piece of body as AsyncIterable<string>) {
          parser.feed(piece);
          const events = batch;
          batch = [];
          // A garbage body without event breaks would otherwise be buffered whole.
          unparsed = events.length ? 0 : unparsed + piece.length;
          if (unparsed > MAX_EVENT_CHARS) throw new CallError("bad_response", "upstream LLM sent an oversized stream event");
          let joined = ""; // req.coalesce: this read's deltas, yielded as one
          for (const data of events) {
            if (done || data.startsWith("[DONE]")) {
              done = true;
              continue;
            }
            const chunk = JSON.parse(data) as (ChatCompletionChunk & { error?: unknown }) | null;
            if (chunk?.error) {
              if (joined) yield { type: "delta", text: joined }; // what came before the error counts
              throw new CallError("upstream_error", "upstream LLM reported an error mid-stream");
            }
            // The usage chunk has `choices: []`.
            const text = chunk?.choices?.[0]?.delta?.content;
            if (text) {
              produced = true;
              if (req.coalesce) joined += text;
              else yield { type: "delta", text };
            }
            if (chunk?.usage) {
              if (joined) yield { type: "delta", text: joined };
              joined = "";
              yield { type: "usage", usage: chunk.usage };
            }
          }
          if (joined) yield { type: "delta", text: joined };
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
