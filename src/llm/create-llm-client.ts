// Picks the LLM client the configuration asks for: the built-in mock or the openai SDK, recorded
// to fixtures (LLM_RECORD_DIR), or replaced by recorded fixtures (LLM_REPLAY_DIR).
import type { Logger } from "pino";
import type { Config } from "../config/env.js";
import type { LlmClient } from "./llm-client.js";
import { createMockClient } from "./mock-client.js";
import { createOpenAiClient } from "./openai-client.js";
import { recordingClient } from "./recording-client.js";
import { replayClient } from "./replay-client.js";

export function createLlmClient(config: Config, logger?: Logger): LlmClient {
  // Replay wins over the mock too: a replayed run must never reach anything but the fixtures.
  if (config.LLM_REPLAY_DIR) {
    logger?.info({ dir: config.LLM_REPLAY_DIR, speed: Number.isFinite(config.LLM_REPLAY_SPEED) ? config.LLM_REPLAY_SPEED : "max" }, "replaying LLM calls from fixtures");
    return replayClient(config.LLM_REPLAY_DIR, config.LLM_REPLAY_SPEED);
  }
  const client = upstreamClient(config, logger);
  if (!config.LLM_RECORD_DIR) return client;
  logger?.info({ dir: config.LLM_RECORD_DIR }, "recording LLM calls as fixtures (they hold prompts and user messages)");
  return recordingClient(client, config.LLM_RECORD_DIR, { warn: (msg) => logger?.warn(msg) });
}

function upstreamClient(config: Config, logger?: Logger): LlmClient {
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
    proxy: config.proxy,
    log: (msg) => logger?.warn({ source: "openai-sdk" }, msg),
  });
}
