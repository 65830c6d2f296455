// Starts Chorus: configuration, prompts, the LLM client, the server, and signal handling.
import { createApp } from "./app.js";
import { ConfigError, loadConfig } from "./config/env.js";
import { loadPrompts, PromptError } from "./config/prompts.js";
import { createLlmClient } from "./llm/create-llm-client.js";
import { createLogger } from "./log/logger.js";
import { createTracerProvider } from "./observability/tracing.js";
import { startServer } from "./server.js";

async function main() {
  let config, prompts, chorus, logger, tracerProvider;
  try {
    config = loadConfig();
    prompts = loadPrompts(config.PROMPTS_DIR);
    logger = createLogger({ level: config.LOG_LEVEL, production: config.PRODUCTION });
    tracerProvider = createTracerProvider(config); // undefined unless OTEL_EXPORTER_OTLP_ENDPOINT is set
    chorus = createApp({ config, prompts, llm: createLlmClient(config, logger), logger, tracerProvider });
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
    // Exports the spans still batched; a collector that is down must not hold the exit.
    await tracerProvider?.shutdown().catch((err: Error) => logger.warn({ err: err.message }, "could not flush traces"));
    logger.info("stopped");
    logger.flush();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

void main();
