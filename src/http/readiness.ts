// GET /ready and its probes. Each probe is a function answering "ok" (or "ok (…)") when ready,
// anything else saying why not, without secrets; services.ts keeps them by name (prompts, llm, redis).
import { Hono } from "hono";
import type { Config } from "../config/env.js";
import type { UpstreamTarget } from "../llm/upstream-target.js";
import type { AppEnv } from "./app-env.js";

export type Probe = () => Promise<string>;

/** Re-runs `probe` at most once per `ttlMs`; concurrent callers share one run of it. */
export function cachedFor(ttlMs: number, probe: Probe): Probe {
  let last: { at: number; answer: Promise<string> } | undefined;
  return () => {
    const now = performance.now();
    if (!last || now - last.at > ttlMs) last = { at: now, answer: probe().catch(() => "failed") };
    return last.answer;
  };
}

/** Why a request failed, in words that hold neither the key nor the upstream's body. */
function reason(err: unknown): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return "timeout";
  const code = (err as { cause?: { code?: unknown } }).cause?.code;
  return typeof code === "string" ? code : "connection failed";
}

/**
 * `GET {base_url}/models` on every distinct endpoint the agents and the summarizer use: cheap,
 * checks the key on hosted APIs, generates nothing. A failure names only the endpoint's host.
 * The mock and replayed fixtures need no network: always ok.
 */
export function llmProbe(config: Config, targets: UpstreamTarget[], timeoutMs = 2000): Probe {
  if (config.LLM_REPLAY_DIR) return async () => "ok (replay)";
  if (config.USE_LLM_MOCK) return async () => "ok (mock)";
  const endpoints = [...new Map(targets.map((t) => [`${t.baseURL}\u0000${t.apiKey}`, t])).values()];
  const probe = async (t: UpstreamTarget): Promise<string | undefined> => {
    const host = new URL(t.baseURL).host;
    try {
      const res = await fetch(`${t.baseURL.replace(/\/+$/, "")}/models`, {
        headers: { authorization: `Bearer ${t.apiKey}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body?.cancel();
      return res.ok ? undefined : `${host} answered ${res.status}`;
    } catch (err) {
      return `${host}: ${reason(err)}`;
    }
  };
  return async () => {
    const failures = (await Promise.all(endpoints.map(probe))).filter((f) => f !== undefined);
    return failures.length === 0 ? "ok" : `unreachable: ${failures.join("; ")}`;
  };
}

/** GET /ready: 200 `ready` when every probe answers "ok…", else 503 with each probe's answer; 503 while draining. */
export function readinessRoutes(probes: Record<string, Probe>, state: { draining: boolean }) {
  return new Hono<AppEnv>().get("/ready", async (c) => {
    const names = Object.keys(probes);
    const answers = await Promise.all(names.map((n) => probes[n]!()));
    const checks = Object.fromEntries(names.map((n, i) => [n, answers[i]!]));
    if (state.draining) return c.json({ status: "unready", reason: "shutting_down", checks }, 503);
    const ok = answers.every((a) => a.startsWith("ok"));
    return c.json({ status: ok ? "ready" : "unready", checks }, ok ? 200 : 503);
  });
}
