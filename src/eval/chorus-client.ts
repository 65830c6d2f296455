// The eval's HTTP client for a Chorus service: runs one question through one contender
// (POST /api/process, read to the end of its event stream), asks for dry-run estimates, and
// lists the presets. A 429 is waited out (Retry-After) rather than counted as a failure: an
// eval sends many requests, and the service's rate limit is not the contender's fault.
import { setTimeout as sleep } from "node:timers/promises";
import { sseFrames } from "../cli/sse-frames.js";
import type { Contender } from "./contenders.js";

export interface ChorusEndpoint {
  url: string;
  key?: string;
}

export interface Answer {
  ok: boolean;
  /** The final answer (the summary; a single agent's run summarizes that one answer). */
  text?: string;
  /** done.status ("ok" | "partial"), or the run error / HTTP error code. */
  status: string;
  error?: { code: string; message: string };
  /** done.cost_usd: the run's measured cost, when every model it used has a price. */
  cost_usd?: number;
  /** Wall time from the request to the last event, as the user waits for it. */
  latency_ms: number;
  /** Upstream LLM calls the run started (agents, reviews, judge, summaries). */
  calls: number;
}

export interface Estimate {
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** null when some model of the plan has no price. */
  cost_usd: number | null;
}

export class ServiceError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const MAX_RATE_LIMIT_WAITS = 10;

/** fetch, waiting out 429s; connection failures become ServiceError("unreachable"). */
async function send(ep: ChorusEndpoint, path: string, init: RequestInit, signal: AbortSignal): Promise<Response> {
  const headers = { ...(init.headers as Record<string, string>), ...(ep.key ? { authorization: `Bearer ${ep.key}` } : {}) };
  for (let attempt = 0; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(`${ep.url}${path}`, { ...init, headers, signal });
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new ServiceError(`cannot reach ${ep.url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`, "unreachable");
    }
    if (res.status !== 429 || attempt >= MAX_RATE_LIMIT_WAITS) return res;
    await res.body?.cancel();
    const wait = Math.min(60, Math.max(1, Number(res.headers.get("retry-after")) || 1));
    await sleep(wait * 1000, undefined, { signal });
  }
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  return { code: body?.error?.code ?? `http_${res.status}`, message: body?.error?.message ?? `HTTP ${res.status}` };
}

const json = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** Runs `question` through `contender`. Resolves with a failed Answer on any run failure; rejects only when `signal` aborts. */
export async function answer(ep: ChorusEndpoint, contender: Contender, question: string, messageId: string, signal: AbortSignal): Promise<Answer> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let calls = 0;
  const failed = (error: { code: string; message: string }): Answer => ({ ok: false, status: error.code, error, latency_ms: elapsed(), calls });
  let res: Response;
  try {
    res = await send(ep, "/api/process", json({ message: question, message_id: messageId, ...contender.request }), signal);
  } catch (e) {
    if (e instanceof ServiceError) return failed({ code: e.code, message: e.message });
    throw e;
  }
  if (!res.ok || !res.body) return failed(await errorOf(res));
  try {
    for await (const frame of sseFrames(res.body)) {
      let data: any;
      try {
        data = JSON.parse(frame.data);
      } catch {
        continue;
      }
      if (frame.event === "agent_start" || frame.event === "review_start" || frame.event === "analysis" || frame.event === "analysis_error" || frame.event === "summary_restart") calls++;
      if (frame.event === "done") {
        calls++; // the summary that was kept
        return {
          ok: true,
          text: String(data.summary ?? ""),
          status: String(data.status ?? "ok"),
          ...(typeof data.cost_usd === "number" ? { cost_usd: data.cost_usd } : {}),
          latency_ms: elapsed(),
          calls,
        };
      }
      if (frame.event === "error") return failed({ code: String(data.code ?? "error"), message: String(data.message ?? "run failed") });
    }
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    return failed({ code: "connection_lost", message: `the stream broke: ${(e as Error).message}` });
  }
  if (signal.aborted) throw signal.reason;
  return failed({ code: "connection_lost", message: "the stream ended without done or error" });
}

/** The service's worst-case estimate for one run (dry_run: no LLM is called). */
export async function dryRun(ep: ChorusEndpoint, contender: Contender, question: string, messageId: string, signal: AbortSignal): Promise<Estimate> {
  const res = await send(ep, "/api/process", json({ message: question, message_id: messageId, ...contender.request, dry_run: true }), signal);
  const type = res.headers.get("content-type") ?? "";
  if (res.ok && !type.startsWith("application/json")) {
    await res.body?.cancel(); // a run started after all: leaving cancels it
    throw new ServiceError(`${ep.url} does not support dry_run estimates (it started a run): cannot check --max-cost-usd`, "no_dry_run");
  }
  if (!res.ok) {
    const e = await errorOf(res);
    throw new ServiceError(`dry run for ${contender.name}: ${res.status} ${e.code}: ${e.message}`, e.code);
  }
  const body = (await res.json()) as { plan?: { calls?: number }; estimate?: { prompt_tokens?: number; completion_tokens?: number; cost_usd?: number | null } };
  const est = body.estimate;
  if (!est || typeof est.completion_tokens !== "number") throw new ServiceError(`dry run for ${contender.name}: the answer holds no estimate`, "bad_estimate");
  return { calls: body.plan?.calls ?? 0, prompt_tokens: est.prompt_tokens ?? 0, completion_tokens: est.completion_tokens, cost_usd: est.cost_usd ?? null };
}

export interface PresetInfo {
  name: string;
  agents: string[];
}

/** GET /api/presets. */
export async function presets(ep: ChorusEndpoint, signal: AbortSignal): Promise<PresetInfo[]> {
  const res = await send(ep, "/api/presets", { method: "GET" }, signal);
  if (!res.ok) {
    const e = await errorOf(res);
    throw new ServiceError(`GET ${ep.url}/api/presets: ${res.status} ${e.code}: ${e.message}`, e.code);
  }
  const body = (await res.json()) as { presets?: PresetInfo[] };
  return (body.presets ?? []).filter((p) => typeof p.name === "string").map((p) => ({ name: p.name, agents: Array.isArray(p.agents) ? p.agents : [] }));
}
