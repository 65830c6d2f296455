// `chorus eval --local`: a Chorus started inside the eval's own process on a free loopback
// port, with this environment's settings (the built-in mock LLM unless USE_LLM_MOCK=false), so
// `make eval` needs nothing running.
import { createApp } from "../app.js";
import { parseConfig } from "../config/env.js";
import { loadPrompts } from "../config/prompts.js";
import { createLlmClient } from "../llm/create-llm-client.js";
import { createLogger } from "../log/logger.js";
import { startServer } from "../server.js";

export interface LocalChorus {
  url: string;
  close(): Promise<void>;
}

export async function startLocalChorus(env: Record<string, string | undefined>): Promise<LocalChorus> {
  const config = parseConfig({
    ...env,
    HTTP_ADDR: "127.0.0.1:0",
    // The eval is the only client: its own rate limit would only slow it down.
    RATE_LIMIT_POINTS: "1000000",
    MAX_STREAMS_PER_CLIENT: "1000",
    PRODUCTION: "true",
  });
  const prompts = loadPrompts(config.PROMPTS_DIR);
  // Only errors, and on stderr: stdout carries the table.
  const logger = createLogger({ level: "error", production: true }, process.stderr);
  const chorus = createApp({ config, prompts, llm: createLlmClient(config, logger), logger, env });
  const running = await startServer(chorus, config.host, config.port);
  return { url: running.url, close: () => running.shutdown(0) };
}
