// The composition root: builds the services a Chorus process shares (Redis, the run and
// conversation stores, the run registry, the limits, metrics, tracing, the runner) from the
// configuration. Knows nothing of routes: app.ts assembles the HTTP side over these.
import type { TracerProvider } from "@opentelemetry/api";
import pLimit from "p-limit";
import type { Logger } from "pino";
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from "rate-limiter-flexible";
import { ConfigError, type Config } from "./config/env.js";
import type { Prompts } from "./config/prompts.js";
import { cachedFor, llmProbe, type Probe } from "./http/readiness.js";
import type { LlmClient } from "./llm/llm-client.js";
import { Hedger } from "./llm/hedge.js";
import { createUpstreamBudgets } from "./llm/upstream-budget.js";
import { fallbackTargets, promptTarget } from "./llm/upstream-target.js";
import { createMetrics, type Metrics } from "./observability/metrics.js";
import { createRunTracer } from "./observability/tracing.js";
import { turnRecorder, withConversations } from "./run/conversation-runner.js";
import { createWaitingRuns } from "./run/waiting-runs.js";
import type { FanOutDeps } from "./run/fan-out.js";
import { RunRegistry } from "./run/run-registry.js";
import { createRunner, type Runner } from "./run/runner.js";
import { memoryConversations, redisConversations, type ConversationStore } from "./store/conversations.js";
import { connectRedis } from "./store/redis-client.js";
import { RedisRuns } from "./store/redis-runs.js";
import { memoryRuns, type RunStore } from "./store/runs.js";

export interface ServiceDeps {
  config: Config;
  prompts: Prompts;
  llm: LlmClient;
  logger: Logger;
  /** Where api_key_env names are looked up (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Where run and call spans go (index.ts: the OTLP one, when configured). Absent: tracing off. */
  tracerProvider?: TracerProvider;
}

export interface Services {
  config: Config;
  prompts: Prompts;
  logger: Logger;
  registry: RunRegistry;
  runner: Runner;
  conversations: ConversationStore;
  /** Each client's request budget (shared by every replica with Redis). */
  limiter: RateLimiterAbstract;
  metrics: Metrics;
  /** GET /ready's checks by name: each answers "ok…" or why not. */
  readiness: Record<string, Probe>;
  /** True while MAX_QUEUED_RUNS runs wait for upstream capacity: new runs are refused. */
  overloaded(): boolean;
  /** Set on SIGTERM: new work is refused with shutting_down. */
  state: { draining: boolean };
  /** Waits (up to `ms`) for backing services; false if one is not there yet. */
  connect(ms: number): Promise<boolean>;
  /** Closes backing-service connections. */
  close(): void;
}

/** What a run's stages need, from the configuration and the prompts. */
function fanOutDeps({ config, prompts, llm, env = process.env, tracerProvider }: ServiceDeps, metrics: Metrics): FanOutDeps {
  return {
    llm,
    prompts,
    agentTargets: new Map(prompts.agents.map((a) => [a.name, promptTarget(config, a.settings, a.name, env)])),
    summarizerTargets: [promptTarget(config, prompts.summarizer.settings, "summarizer", env), ...fallbackTargets(config, env)],
    judgeTarget: promptTarget(config, prompts.judge.settings, "judge", env),
    defaultPreset: config.DEFAULT_PRESET,
    budgets: createUpstreamBudgets(),
    limit: pLimit(config.MAX_CONCURRENT_LLM_CALLS),
    waiting: createWaitingRuns(),
    prices: config.prices,
    onCall: metrics.call,
    ...(config.LLM_HEDGE ? { hedger: new Hedger({ budget: config.LLM_HEDGE_BUDGET }) } : {}),
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
      maxTokens: config.LLM_MAX_TOKENS,
    },
  };
}

export function createServices(deps: ServiceDeps): Services {
  const { config, prompts, logger } = deps;
  if (!prompts.presets.some((p) => p.name === config.DEFAULT_PRESET)) {
    throw new ConfigError(`invalid configuration:\n  DEFAULT_PRESET: no preset named "${config.DEFAULT_PRESET}" in ${config.PROMPTS_DIR}/presets`);
  }
  const metrics = createMetrics({ prices: config.prices });
  const store = config.REDIS_URL
    ? connectRedis(config.REDIS_URL, (err) => logger.warn({ err: err.message }, "redis error"), config.REDIS_CLUSTER, metrics.redisCommand)
    : undefined;
  // The one place the kind of run store is chosen.
  const runStore: RunStore = store
    ? new RedisRuns(store.redis, store.sub, {
        retentionS: config.RUN_RETENTION_S,
        leaseMs: config.RUN_LEASE_MS,
        flushMs: config.REDIS_FLUSH_MS,
        onError: (what, err) => logger.warn({ err: (err as Error).message, what }, "redis unavailable"),
        onLost: (id) => logger.warn({ message_id: id }, "run taken over by another replica while this one still ran it (its lease had lapsed)"),
      })
    : memoryRuns();
  const registry = new RunRegistry({
    retentionS: config.RUN_RETENTION_S,
    maxRetained: config.MAX_RETAINED_RUNS,
    orphanGraceMs: config.RUN_ORPHAN_GRACE_MS,
    onDisconnect: config.ON_DISCONNECT,
    store: runStore,
    // Runs whose owner died are looked for twice per lease.
    sweepMs: store ? Math.max(100, Math.round(config.RUN_LEASE_MS / 2)) : 0,
  });
  const fanOut = fanOutDeps(deps, metrics);
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

  const readiness: Record<string, Probe> = {
    prompts: async () => "ok",
    // Probed at most every 5 s, however often the orchestrator asks.
    llm: cachedFor(5000, llmProbe(config, [...fanOut.agentTargets.values(), ...fanOut.summarizerTargets, ...(fanOut.judgeTarget ? [fanOut.judgeTarget] : [])])),
  };
  if (store) {
    readiness.redis = () =>
      runStore.ping().then(
        () => "ok",
        (e: Error) => `unreachable: ${e.message}`,
      );
  }

  return {
    config,
    prompts,
    logger,
    registry,
    runner,
    conversations,
    limiter,
    metrics,
    readiness,
    // MAX_QUEUED_RUNS runs already wait for upstream capacity (counted as runs, not calls).
    overloaded: () => fanOut.waiting!.count >= config.MAX_QUEUED_RUNS,
    state: { draining: false },
    connect: async (ms) => (store ? store.ready(ms) : true),
    close: () => {
      registry.close();
      runStore.close();
    },
  };
}
