// Picks the LLM client the configuration asks for: the built-in mock or the openai SDK.
import type { Logger } from "pino";
import type { Config } from "../config/env.js";
import type { LlmClient } from "./llm-client.js";
import { createMockClient } from "./mock-client.js";
import { createOpenAiClient } from "./openai-client.js";

export function createLlmClient(config: Config, logger?: Logger): LlmClient {
  if (config.USE_LLM_MOCK) {
    return createMockClient({
      tokenDelayMs: config.MOCK_TOKEN_DELAY_MS,
      failCallers: config.MOCK_FAIL_AGENTS,
      failureRate: config.MOCK_FAILURE_RATE,
    });
  }
  return createOpenAiClient({
    baseURL: config.LLM_BASE_URL,
    apiKey: config.llmKey,
    maxRetries: config.LLM_MAX_RETRIES,
    streamUsage: config.LLM_STREAM_USAGE,
    log: (msg) => logger?.warn({ source: "openai-sdk" }, msg),
  });
}
