// Starts Chorus: configuration, prompts, the LLM client, the server, and signal handling.
import { createApp } from "./app.js";
import { ConfigError, loadConfig } from "./config/env.js";
import { loadPrompts, PromptError } from "./config/prompts.js";
import { createLlmClient } from "./llm/create-llm-client.js";
import { createLogger } from "./log/logger.js";
import { startServer } from "./server.js";

async function main() {
  let config, prompts, chorus, logger;
  try {
    config = loadConfig();
    prompts = loadPrompts(config.PROMPTS_DIR);
    logger = createLogger({ level: config.LOG_LEVEL, production: config.PRODUCTION });
    chorus = createApp({ config, prompts, llm: createLlmClient(config, logger), logger });
  } catch (e) {
    if (e instanceof ConfigError || e instanceof PromptError) {
      process.stderr.write(`chorus: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const running = await startServer(chorus, config.host, config.port).catch((e: NodeJS.ErrnoException) => {
    process.stderr.write(`chorus: cannot listen on ${config.HTTP_ADDR}: ${e.code ?? e.message}\n`);
    process.exit(1);
  });
  logger.info(
    { addr: config.HTTP_ADDR, url: running.url, mock: config.USE_LLM_MOCK, agents: prompts.agents.map((a) => a.name) },
    "chorus listening",
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) process.exit(1); // a second signal: leave now
    stopping = true;
    logger.info({ signal, in_flight: chorus.registry.inFlight, grace_ms: config.SHUTDOWN_GRACE_MS }, "draining");
    await running.shutdown(config.SHUTDOWN_GRACE_MS);
    logger.info("stopped");
    logger.flush();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

void main();
