// Parses the environment once, with one zod schema. A bad value stops the process at start with a
// message that names the variable and the rule; nothing else in the code reads process.env.
import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { loadPrices, PricesError, type PriceTable } from "./prices.js";

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);
const flag = (def: boolean) => z.stringbool().default(def);
const list = z
  .string()
  .default("")
  .transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean));
const emptyAsUndefined = (v: unknown) => (v === "" ? undefined : v);
// zod names the variable, never its value: a proxy URL may hold a password.
const proxyUrl = z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).optional());

const schema = z
  .object({
    HTTP_ADDR: z
      .string()
      .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, "must be [host]:port, e.g. :8080 or 127.0.0.1:9000")
      .default(":8080"),
    PRODUCTION: flag(false),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),

    USE_LLM_MOCK: flag(true),
    LLM_BASE_URL: z.url().default("https://api.openai.com/v1"),
    LLM_KEY: z.preprocess(emptyAsUndefined, z.string().optional()),
    OPENAI_API_KEY: z.preprocess(emptyAsUndefined, z.string().optional()),
    LLM_MODEL: z.string().min(1).default("gpt-4o-mini"),
    LLM_MAX_RETRIES: int(2, 0, 10),
    // An egress proxy for the model calls, in curl's variables (the lower-case ones win, as in curl).
    HTTP_PROXY: proxyUrl,
    HTTPS_PROXY: proxyUrl,
    NO_PROXY: z.preprocess(emptyAsUndefined, z.string().optional()),
    http_proxy: proxyUrl,
    https_proxy: proxyUrl,
    no_proxy: z.preprocess(emptyAsUndefined, z.string().optional()),
    // The completion bound sent upstream as max_tokens when a prompt header sets none: it makes
    // the cost estimate a true ceiling.
    LLM_MAX_TOKENS: int(4096, 1, 1_000_000),
    LLM_STREAM_USAGE: flag(true),
    LLM_RECORD_DIR: z.preprocess(emptyAsUndefined, z.string().optional()),
    LLM_REPLAY_DIR: z.preprocess(emptyAsUndefined, z.string().optional()),
    // A factor on the recorded timing; "max" or 0 mean no delays, held as Infinity.
    LLM_REPLAY_SPEED: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .regex(/^(max|\d+(\.\d+)?)$/, 'must be a factor such as 1 or 2.5, or "max" (no delays)')
        .default("1")
        .transform((s) => (s === "max" || Number(s) === 0 ? Infinity : Number(s))),
    ),

    MOCK_TOKEN_DELAY_MS: int(40, 0, 60_000),
    MOCK_FAIL_AGENTS: list,
    MOCK_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),

    PROMPTS_DIR: z.string().min(1).default("prompts"),
    // The preset (prompts/presets/<name>.md) of a request that names none.
    DEFAULT_PRESET: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "must be a preset name").default("default"),
    AGENT_TIMEOUT_MS: int(60_000, 1),
    AGENT_FIRST_TOKEN_TIMEOUT_MS: int(20_000, 1),
    AGENT_STALL_TIMEOUT_MS: int(15_000, 1),
    // Empty: the same as AGENT_FIRST_TOKEN_TIMEOUT_MS.
    SUMMARIZER_FIRST_TOKEN_TIMEOUT_MS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).optional()),
    SUMMARIZER_TIMEOUT_MS: int(90_000, 1),
    SUMMARIZER_FALLBACK_MODELS: list,
    FANOUT_DEADLINE_MS: int(0, 0),
    MIN_AGENTS_OK: int(1, 1),
    UPSTREAM_RPM: int(0, 0),
    // Hedged first-token requests; the budget is the share of calls that may send a second one.
    LLM_HEDGE: flag(false),
    LLM_HEDGE_BUDGET: z.coerce.number().min(0).max(1).default(0.05),
    MAX_CONCURRENT_LLM_CALLS: int(32, 1),
    MAX_QUEUED_RUNS: int(1000, 0),

    MAX_MESSAGE_CHARS: int(16_000, 1),
    MAX_BODY_BYTES: int(65_536, 64),
    RATE_LIMIT_POINTS: int(60, 1),
    RATE_LIMIT_WINDOW_S: int(60, 1),
    TRUST_PROXY: int(0, 0, 32),
    MAX_STREAMS_PER_CLIENT: int(20, 1),
    API_KEYS: list,
    // A file with one key per line (# starts a comment line); its keys add to API_KEYS.
    API_KEYS_FILE: z.preprocess(emptyAsUndefined, z.string().optional()),
    // Browser origins allowed to call /api/* and /v1/* (CORS); empty: CORS off.
    CORS_ORIGINS: list.pipe(
      z.array(z.string().regex(/^(\*|https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?|https?:\/\/\[[0-9a-fA-F:.]+\](:\d{1,5})?)$/, 'each must be an origin such as https://app.example.com (no path), or "*"')),
    ),
    // When set, GET /metrics needs "Authorization: Bearer <token>".
    METRICS_TOKEN: z.preprocess(emptyAsUndefined, z.string().min(16, "must be at least 16 characters").optional()),
    // model → USD per 1M tokens; unset: <PROMPTS_DIR>/prices.json when it exists.
    PRICES_FILE: z.preprocess(emptyAsUndefined, z.string().optional()),

    SSE_HEARTBEAT_MS: int(15_000, 10),
    SSE_WRITE_TIMEOUT_MS: int(30_000, 10),
    // What a run does when its last client leaves (a request's on_disconnect wins).
    ON_DISCONNECT: z.enum(["cancel", "continue"]).default("cancel"),
    RUN_ORPHAN_GRACE_MS: int(10_000, 0),
    // How long a replica's hold on a run lasts unless renewed (Redis): a dead replica's runs are taken over after it.
    RUN_LEASE_MS: int(5_000, 100),
    // With Redis, the most a run's events wait to be written together (fewer writes; clients see them once written).
    REDIS_FLUSH_MS: int(20, 0),
    MAX_OUTPUT_CHARS: int(100_000, 1),
    RUN_RETENTION_S: int(300, 0),
    MAX_RETAINED_RUNS: int(1000, 0),
    SHUTDOWN_GRACE_MS: int(30_000, 0),
    HISTORY_MAX_TURNS: int(10, 0),
    HISTORY_MAX_CHARS: int(32_000, 0),
    CONVERSATION_TTL_S: int(86_400, 1),
    // REDIS_URL names one node of a Redis Cluster; the others are discovered.
    REDIS_CLUSTER: flag(false),
    REDIS_URL: z.preprocess(emptyAsUndefined, z.string().regex(/^rediss?:\/\/\S+$/, "must be a redis:// or rediss:// URL").optional()),
    // OTLP/HTTP collector base URL (spans go to <url>/v1/traces); unset: tracing off.
    OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).optional()),
    OTEL_SERVICE_NAME: z.preprocess(emptyAsUndefined, z.string().min(1).default("chorus")),
  })
  .superRefine((e, ctx) => {
    const key = e.LLM_KEY ?? e.OPENAI_API_KEY;
    // Hosted OpenAI always needs a key; local servers (Ollama, vLLM) take a placeholder.
    if (!e.USE_LLM_MOCK && !e.LLM_REPLAY_DIR && !key && new URL(e.LLM_BASE_URL).hostname.endsWith("openai.com")) {
      ctx.addIssue({
        code: "custom",
        path: ["LLM_KEY"],
        message: "is required when USE_LLM_MOCK=false and LLM_BASE_URL points at OpenAI (OPENAI_API_KEY is accepted too)",
      });
    }
    if (e.LLM_REPLAY_DIR && e.LLM_RECORD_DIR) {
      ctx.addIssue({ code: "custom", path: ["LLM_REPLAY_DIR"], message: "cannot be set together with LLM_RECORD_DIR: record or replay, not both" });
    } else if (e.LLM_REPLAY_DIR && !existsSync(e.LLM_REPLAY_DIR)) {
      ctx.addIssue({ code: "custom", path: ["LLM_REPLAY_DIR"], message: "must be an existing folder of recorded fixtures" });
    }
  });

export type Env = z.infer<typeof schema>;

type ProxyVars = "HTTP_PROXY" | "HTTPS_PROXY" | "NO_PROXY" | "http_proxy" | "https_proxy" | "no_proxy";

/** The egress proxy of the model calls, from HTTP_PROXY, HTTPS_PROXY, NO_PROXY. Never logged. */
export interface ProxyConfig {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
}

export interface Config extends Omit<Env, "LLM_KEY" | "OPENAI_API_KEY" | ProxyVars> {
  /** The upstream key, or a placeholder for servers that need none. Never logged. */
  llmKey: string;
  /** Set when HTTP_PROXY or HTTPS_PROXY is. */
  proxy?: ProxyConfig;
  /** The price table (PRICES_FILE), when there is one. */
  prices?: PriceTable;
  host: string | undefined;
  port: number;
}

export class ConfigError extends Error {}

/** Validates an environment; throws ConfigError naming each bad variable. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  const { LLM_KEY, OPENAI_API_KEY, HTTP_PROXY, HTTPS_PROXY, NO_PROXY, http_proxy, https_proxy, no_proxy, ...rest } = result.data;
  const httpProxy = http_proxy ?? HTTP_PROXY;
  const httpsProxy = https_proxy ?? HTTPS_PROXY;
  const noProxy = no_proxy ?? NO_PROXY;
  const proxy = httpProxy || httpsProxy ? { httpProxy, httpsProxy, noProxy } : undefined;
  const i = rest.HTTP_ADDR.lastIndexOf(":");
  const host = rest.HTTP_ADDR.slice(0, i).replace(/^\[(.*)\]$/, "$1") || undefined;
  const port = Number(rest.HTTP_ADDR.slice(i + 1));
  if (port > 65535) throw new ConfigError("invalid configuration:\n  HTTP_ADDR: port must be at most 65535");
  const API_KEYS = rest.API_KEYS_FILE ? [...rest.API_KEYS, ...readKeysFile(rest.API_KEYS_FILE)] : rest.API_KEYS;
  let prices: PriceTable | undefined;
  try {
    prices = loadPrices(rest.PRICES_FILE, rest.PROMPTS_DIR);
  } catch (e) {
    if (e instanceof PricesError) throw new ConfigError(`invalid configuration:\n  PRICES_FILE: ${e.message}`);
    throw e;
  }
  return { ...rest, API_KEYS, llmKey: LLM_KEY ?? OPENAI_API_KEY ?? "not-needed", host, port, ...(prices ? { prices } : {}), ...(proxy ? { proxy } : {}) };
}

/**
 * API_KEYS_FILE: one key per line; blank lines and lines starting with # are skipped. Errors
 * name the line, never its content: it may be a key. A file without keys is refused, since it
 * would silently leave the API open.
 */
function readKeysFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`invalid configuration:\n  API_KEYS_FILE: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const keys: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    if (/\s/.test(line)) throw new ConfigError(`invalid configuration:\n  API_KEYS_FILE: line ${i + 1} holds whitespace; one key per line`);
    keys.push(line);
  });
  if (keys.length === 0) throw new ConfigError(`invalid configuration:\n  API_KEYS_FILE: ${file} holds no keys`);
  return keys;
}

/** Reads `.env` (variables already set in the environment win), then validates. */
export function loadConfig(envFile = ".env"): Config {
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  return parseConfig(process.env);
}
