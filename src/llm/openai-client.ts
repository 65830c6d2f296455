// LlmClient over the official `openai` SDK: any OpenAI-compatible server (OpenAI, Ollama, vLLM, LiteLLM).
import { createParser } from "eventsource-parser";
import OpenAI from "openai";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { CallError } from "../errors.js";
import { classifyError } from "./classify-error.js";
import type { ProxyConfig } from "../config/env.js";
import { upstreamFetch, type UpstreamBody } from "./undici-fetch.js";
import type { ChatRequest, LlmClient, OnChunk } from "./llm-client.js";

export interface OpenAiClientOptions {
  baseURL: string;
  apiKey: string;
  maxRetries: number;
  /** Ask for a final usage chunk; some compatible servers reject `stream_options`. */
  streamUsage: boolean;
  /** The egress proxy (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), when there is one. */
  proxy?: ProxyConfig;
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
  const fetch = upstreamFetch(opts.proxy);
  // One SDK client per endpoint and key, over one connection pool per origin.
  const clients = new Map<string, OpenAI>();
  const clientFor = (baseURL: string, apiKey: string) => {
    const id = `${baseURL}\u0000${apiKey}`;
    let c = clients.get(id);
    if (!c) {
      c = new OpenAI({ baseURL, apiKey, maxRetries: opts.maxRetries, fetch, logger: { error: log, warn: log, info: () => {}, debug: () => {} } });
      clients.set(id, c);
    }
    return c;
  };

  return {
    async stream(req: ChatRequest, onChunk: OnChunk): Promise<void> {
      let produced = false;
      try {
        const { baseURL, apiKey } = req.endpoint ?? opts;
        // The SDK makes the request (headers, retries, HTTP errors as APIError); its raw response
        // (`asResponse`, a documented SDK call) is read here. The body is the UpstreamBody of
        // upstreamFetch, the SDK's transport above.
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
        // The SSE body is parsed here with eventsource-parser, a push parser fed once per network
        // read, and each delta is pushed on at once: the SDK's own Stream runs three nested async
        // generators per event, an async iterator over a body two promises per read (in the
        // benchmark, the largest shares of CPU per run). Read on after [DONE] to the body's end
        // (as the SDK does): leaving early would close a keep-alive connection.
        const body = response.body as unknown as UpstreamBody;
        let done = false;
        let joined = ""; // req.coalesce: this read's deltas, pushed as one
        let events = 0;
        let unparsed = 0; // characters since the last complete event
        const flush = () => {
          if (joined) onChunk({ type: "delta", text: joined });
          joined = "";
        };
        const take = (data: string) => {
          events++;
          if (done || data.startsWith("[DONE]")) {
            done = true;
            return;
          }
          const chunk = JSON.parse(data) as (ChatCompletionChunk & { error?: unknown }) | null;
          if (chunk?.error) {
            flush(); // what came before the error counts
            throw new CallError("upstream_error", "upstream LLM reported an error mid-stream");
          }
          // The usage chunk has `choices: []`.
          const text = chunk?.choices?.[0]?.delta?.content;
          if (text) {
            produced = true;
            if (req.coalesce) joined += text;
            else onChunk({ type: "delta", text });
          }
          if (chunk?.usage) {
            flush();
            onChunk({ type: "usage", usage: chunk.usage });
          }
        };
        const parser = createParser({ onEvent: (e) => take(e.data) });
        // Ends with the body, or fails with it (an abort, a connection lost) or with what throws here.
        await body.read((piece) => {
          events = 0;
          parser.feed(piece);
          // A garbage body without event breaks would otherwise be buffered whole.
          unparsed = events ? 0 : unparsed + piece.length;
          if (unparsed > MAX_EVENT_CHARS) throw new CallError("bad_response", "upstream LLM sent an oversized stream event");
          flush();
        });
      } catch (err) {
        if (req.signal.aborted) throw req.signal.reason;
        throw classifyError(err);
      }
      // An abort mid-stream may end the body quietly.
      if (req.signal.aborted) throw req.signal.reason;
      if (!produced) throw new CallError("bad_response", "upstream LLM returned an empty completion");
    },
  };
}
