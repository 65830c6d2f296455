// Starts a real, listening Chorus on 127.0.0.1 with test settings, the real prompts folder,
// and either the built-in mock LLM or the openai SDK pointed at a mock upstream.
import { Writable } from "node:stream";
import { createApp, type AppDeps, type Chorus } from "../../src/app.js";
import { parseConfig, type Config } from "../../src/config/env.js";
import { loadPrompts } from "../../src/config/prompts.js";
import { createLlmClient } from "../../src/llm/create-llm-client.js";
import { createLogger } from "../../src/log/logger.js";
import { startServer, type RunningServer } from "../../src/server.js";

export interface TestChorus extends RunningServer {
  chorus: Chorus;
  config: Config;
  /** Every log line, parsed. */
  logs: any[];
  /** The raw log output, for "never logged" checks. */
  logText(): string;
  post(body: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/** `deps` are handed to createApp as they are (e.g. a test's in-memory tracer provider). */
export async function startChorus(env: Record<string, string> = {}, deps: Pick<AppDeps, "tracerProvider"> = {}): Promise<TestChorus> {
  const config = parseConfig({
    HTTP_ADDR: "127.0.0.1:0",
    USE_LLM_MOCK: "true",
    MOCK_TOKEN_DELAY_MS: "1",
    LOG_LEVEL: "info",
    PRODUCTION: "true",
    RATE_LIMIT_POINTS: "10000",
    ...env,
  });
  const prompts = loadPrompts(config.PROMPTS_DIR);
  let text = "";
  const logs: any[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      text += chunk;
      for (const line of String(chunk).split("\n").filter(Boolean)) logs.push(JSON.parse(line));
      cb();
    },
  });
  const logger = createLogger({ level: config.LOG_LEVEL, production: true }, sink);
  const chorus = createApp({ config, prompts, llm: createLlmClient(config, logger), logger, ...deps });
  const running = await startServer(chorus, config.host, config.port);
  return {
    ...running,
    chorus,
    config,
    logs,
    logText: () => text,
    post: (body, headers = {}) =>
      fetch(`${running.url}/api/process`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    close: () => running.shutdown(0),
  };
}
