// Where an upstream call goes: model, endpoint, key and request budget. Resolved once at start
// from a prompt header (model, base_url, api_key_env, rpm) or a SUMMARIZER_FALLBACK_MODELS
// entry, falling back to the global LLM_* settings. The key itself never leaves this object.
import { ConfigError, type Config } from "../config/env.js";
import type { PromptSettings } from "../config/prompts.js";

export interface UpstreamTarget {
  model: string;
  baseURL: string;
  apiKey: string;
  /** Requests per minute for this endpoint+model; 0 = no budget. */
  rpm: number;
  /** `baseURL model`: names the budget bucket and appears in logs; holds no secret. */
  label: string;
}

type Env = Record<string, string | undefined>;

function keyFrom(envName: string | undefined, env: Env, where: string): string | undefined {
  if (!envName) return undefined;
  const key = env[envName];
  if (!key) throw new ConfigError(`invalid configuration:\n  ${where}: api_key_env names ${envName}, which is not set`);
  return key;
}

function target(config: Config, model: string | undefined, baseURL: string | undefined, apiKey: string | undefined, rpm: number | undefined): UpstreamTarget {
  const m = model ?? config.LLM_MODEL;
  const url = baseURL ?? config.LLM_BASE_URL;
  // Another endpoint never receives the global key unless named: it may belong to someone else.
  const key = apiKey ?? (baseURL && baseURL !== config.LLM_BASE_URL ? "not-needed" : config.llmKey);
  return { model: m, baseURL: url, apiKey: key, rpm: rpm ?? config.UPSTREAM_RPM, label: `${url} ${m}` };
}

/** The target of an agent or the summarizer, from its prompt header. */
export function promptTarget(config: Config, settings: PromptSettings, file: string, env: Env): UpstreamTarget {
  return target(config, settings.model, settings.base_url, keyFrom(settings.api_key_env, env, file), settings.rpm);
}

/**
 * SUMMARIZER_FALLBACK_MODELS entries: `model`, `model@base_url` or `model@base_url@API_KEY_ENV`,
 * tried in order when the summarizer fails before its first token.
 */
export function fallbackTargets(config: Config, env: Env): UpstreamTarget[] {
  return config.SUMMARIZER_FALLBACK_MODELS.map((entry) => {
    const [model, baseURL, keyEnv] = entry.split("@");
    if (!model || (baseURL !== undefined && !/^https?:\/\/\S+$/.test(baseURL))) {
      throw new ConfigError(`invalid configuration:\n  SUMMARIZER_FALLBACK_MODELS: "${entry}" must be model, model@base_url or model@base_url@API_KEY_ENV`);
    }
    return target(config, model, baseURL, keyFrom(keyEnv, env, "SUMMARIZER_FALLBACK_MODELS"), undefined);
  });
}
