// Assembles the HTTP app from its parts: middleware, routes, and the services they share.
import type { TracerProvider } from "@opentelemetry/api";
import { Hono } from "hono";
import pLimit from "p-limit";
import type { Logger } from "pino";
import { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";
import type { Config } from "./config/env.js";
import type { Prompts } from "./config/prompts.js";
import { ApiError } from "./errors.js";
import type { AppEnv } from "./http/app-env.js";
import { requireApiKey } from "./http/auth.js";
import { corsFor, securityHeaders } from "./http/browser-security.js";
import { clientIp } from "./http/client-key.js";
import { conversationRoutes } from "./http/conversation-routes.js";
import { docsRoutes } from "./http/docs-routes.js";
import { errorBody, onError } from "./http/errors.js";
import { countRequests, metricsRoutes } from "./http/metrics-routes.js";
import { isOpenAiPath, openAiNotFound, openAiOnError } from "./http/openai-errors.js";
import { openAiRoutes } from "./http/openai-routes.js";
import { processRoutes } from "./http/process-routes.js";
import { rateLimit } from "./http/rate-limit.js";
import { cachedFor, llmProbe } from "./http/readiness.js";
import { requestId } from "./http/request-id.js";
import { streamsStaySent } from "./http/stream-response.js";
import { createStreamQuota } from "./http/stream-quota.js";
import { webPage } from "./http/web-page.js";
import type { LlmClient } from "./llm/llm-client.js";
import { createUpstreamBudgets } from "./llm/upstream-budget.js";
import { fallbackTargets, promptTarget } from "./llm/upstream-target.js";
import { createMetrics } from "./observability/metrics.js";
import { createRunTracer } from "./observability/tracing.js";
import type { FanOutDeps } from "./run/fan-out.js";
import { RunRegistry } from "./run/run-registry.js";
import { turnRecorder, withConversations } from "./run/conversation-runner.js";
import { createWaitingRuns } from "./run/waiting-runs.js";
import { createRunner, type Runner } from "./run/runner.js";
import { memoryConversations, redisConversations } from "./store/conversations.js";
import { connectRedis } from "./store/redis-client.js";
import { RedisRuns } from "./store/redis-runs.js";
import { memoryRuns, type RunStore } from "./store/runs.js";

export interface AppDeps {
  config: Config;
  prompts: Prompts;
  llm: LlmClient;
  logger: Logger;
  /** Where api_key_env names are looked up (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Where run and call spans go (index.ts: the OTLP one, when configured). Absent: tracing off. */
  tracerProvider?: TracerProvider;
}

export interface Chorus {
  app: Hono<AppEnv>;
  registry: RunRegistry;
  runner: Runner;
  /** Set on SIGTERM: new work is refused with 503 shutting_down. */
  state: { draining: boolean };
  /** Waits (up to `ms`) for backing services; false if one is not there yet. */
  connect(ms: number): Promise<boolean>;
  /** Closes backing-service connections. */
  close(): void;
}

export function createApp({ config, prompts, llm, logger, env = process.env, tracerProvider }: AppDeps): Chorus {
  const state = { draining: false };
  const store = config.REDIS_URL
    ? connectRedis(config.REDIS_URL, (err) => logger.warn({ err: err.message }, "redis error"), config.REDIS_CLUSTER)
    : undefined;
  // The one place the kind of run store is chosen.
  const runStore: RunStore = store
    ? new RedisRuns(store.redis, store.sub, {
        retentionS: config.RUN_RETENTION_S,
        leaseMs: config.RUN_LEASE_MS,
        onError: (what, err) => logger.warn({ err: (err as Error).message, what }, "redis unavailable"),
      })
    : memoryRuns();
  const registry = new RunRegistry({
    retentionS: config.RUN_RETENTION_S,
    maxRetained: config.MAX_RETAINED_RUNS,
    orphanGraceMs: config.RUN_ORPHAN_GRACE_MS,
    onDisconnect: config.ON_DISCONNECT,
    store: runStore,
    sweepMs: store ? Math.max(100, Math.round(config.RUN_LEASE_MS / 2)) : 0,
  });
  const limit = pLimit(config.MAX_CONCURRENT_LLM_CALLS);
  const waiting = createWaitingRuns();
  const metrics = createMetrics({ prices: config.prices });
  const fanOut: FanOutDeps = {
    llm,
    prompts,
    agentTargets: new Map(prompts.agents.map((a) => [a.name, promptTarget(config, a.settings, a.name, env)])),
    summarizerTargets: [promptTarget(config, prompts.summarizer.settings, "summarizer", env), ...fallbackTargets(config, env)],
    budgets: createUpstreamBudgets(),
    limit,
    waiting,
    prices: config.prices,
    onCall: metrics.call,
    ...(tracerProvider ? { tracer: createRunTracer(tracerProvider) } : {}),
    settings: {
      agentTimeoutMs: config.AGENT_TIMEOUT_MS,
      summarizerTimeoutMs: config.SUMMARIZER_TIMEOUT_MS,
      firstTokenTimeoutMs: config.AGENT_FIRST_TOKEN_TIMEOUT_MS,
      summarizerFirstTokenTimeoutMs: config.SUMMARIZER_FIRST_TOKEN_TIMEOUT_MS ?? config.AGENT_FIRST_TOKEN_TIMEOUT_MS,
      stallTimeoutMs: config.AGENT_STALL_TIMEOUT_MS,
      fanOutDeadlineMs: config.FANOUT_DEADLINE_MS,
      minAgentsOk: config.MIN_AGENTS_OK,
      maxOutputChars: config.MAX_OUTPUT_CHARS,
    },
  };
  const conversations = store ? redisConversations(store.redis, config.CONVERSATION_TTL_S) : memoryConversations(config.CONVERSATION_TTL_S);
  const recordTurn = turnRecorder(conversations, (err) => logger.warn({ err: (err as Error).message }, "could not record a conversation turn"));
  const runner = withConversations(
    createRunner(fanOut, registry, logger, metrics.runs, recordTurn, config.ON_DISCONNECT),
    conversations,
    { maxTurns: config.HISTORY_MAX_TURNS, maxChars: config.HISTORY_MAX_CHARS },
  );
  const budget = { points: config.RATE_LIMIT_POINTS, duration: config.RATE_LIMIT_WINDOW_S };
  // With Redis the budget is shared by every replica; the in-memory insurance limiter takes
  // over (per replica) while Redis is unreachable.
  const limiter = store
    ? new RateLimiterRedis({ ...budget, storeClient: store.redis, keyPrefix: "chorus:rl", insuranceLimiter: new RateLimiterMemory(budget) })
    : new RateLimiterMemory(budget);

  const app = new Hono<AppEnv>();
  const chorusErrors = onError(logger);
  const v1Errors = openAiOnError(logger);
  // /v1/* answers in OpenAI's error shape, also for refusals by the shared middleware below.
  app.onError((err, c) => (isOpenAiPath(c.req.path) ? v1Errors(err, c) : chorusErrors(err, c)));
  app.notFound((c) =>
    isOpenAiPath(c.req.path) ? openAiNotFound(c) : c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404),
  );

  // Before every route, so that each response is counted, carries X-Request-Id and the security headers.
  app.use("*", streamsStaySent(), countRequests(metrics), requestId(), securityHeaders());
  app.route("/", webPage());
  app.get("/health", (c) => c.json({ status: "ok" }));
  app.route("/", metricsRoutes(metrics, config.METRICS_TOKEN));
  // Each check answers "ok…" or why not; any other answer makes /ready a 503.
  const readiness: Record<string, () => Promise<string>> = {
    prompts: async () => "ok",
    // Probed at most every 5 s, however often the orchestrator asks.
    llm: cachedFor(5000, llmProbe(config, [...fanOut.agentTargets.values(), ...fanOut.summarizerTargets])),
  };
  if (store) {
    readiness.redis = () =>
      runStore.ping().then(
        () => "ok",
        (e: Error) => `unreachable: ${e.message}`,
      );
  }
  app.get("/ready", async (c) => {
    const names = Object.keys(readiness);
    const answers = await Promise.all(names.map((n) => readiness[n]!()));
    const checks = Object.fromEntries(names.map((n, i) => [n, answers[i]!]));
    if (state.draining) return c.json({ status: "unready", reason: "shutting_down", checks }, 503);
    const ok = answers.every((a) => a.startsWith("ok"));
    return c.json({ status: ok ? "ready" : "unready", checks }, ok ? 200 : 503);
  });

  for (const prefix of ["/api/*", "/v1/*"]) {
    // First: a preflight carries no key and must not be refused.
    if (config.CORS_ORIGINS.length) app.use(prefix, corsFor(config.CORS_ORIGINS));
    if (config.API_KEYS.length) app.use(prefix, requireApiKey(config.API_KEYS));
    app.use(prefix, async (c, next) => {
      if (state.draining) throw new ApiError("shutting_down", "the server is shutting down");
      c.set("clientKey", c.get("apiKeyId") ?? clientIp(c, config.TRUST_PROXY));
      await next();
    });
  }
  const limited = rateLimit(limiter, (c) => c.get("clientKey"));
  app.post("/api/process", limited);
  app.post("/v1/chat/completions", limited);

  const streams = metrics.countStreams(createStreamQuota(config.MAX_STREAMS_PER_CLIENT));
  // MAX_QUEUED_RUNS runs already wait for upstream capacity.
  const overloaded = () => waiting.count >= config.MAX_QUEUED_RUNS;
  app.route(
    "/",
    processRoutes({
      registry,
      streams,
      agentNames: prompts.agents.map((a) => a.name),
      maxMessageChars: config.MAX_MESSAGE_CHARS,
      maxBodyBytes: config.MAX_BODY_BYTES,
      heartbeatMs: config.SSE_HEARTBEAT_MS,
      writeTimeoutMs: config.SSE_WRITE_TIMEOUT_MS,
      overloaded,
      runner,
    }),
  );
  app.route(
    "/",
    openAiRoutes({
      registry,
      runner,
      streams,
      maxMessageChars: config.MAX_MESSAGE_CHARS,
      maxBodyBytes: config.MAX_BODY_BYTES,
      heartbeatMs: config.SSE_HEARTBEAT_MS,
      writeTimeoutMs: config.SSE_WRITE_TIMEOUT_MS,
      overloaded,
    }),
  );
  app.route("/", conversationRoutes(conversations));
  app.route("/", docsRoutes({ maxMessageChars: config.MAX_MESSAGE_CHARS, agentNames: prompts.agents.map((a) => a.name) }));
  return {
    app,
    registry,
    runner,
    state,
    connect: async (ms) => (store ? store.ready(ms) : true),
    close: () => {
      registry.close();
      runStore.close();
    },
  };
}
