// Prometheus metrics, prefixed chorus_, in a registry of the app's own (not prom-client's
// global one), so that several apps in one process (tests) never share or clash. Everything is
// recorded once per request, per upstream call or per run, never per token: the hot path
// stays cheap. Labels use the contract's error codes, the one vocabulary of Chorus.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { costUsd, type PriceTable } from "../config/prices.js";
import { stageOf, type CallRecord, type RunObserver } from "../run/outcome.js";

/** What counts open streams: the HTTP layer's per-client quota. */
interface StreamQuota {
  open(key: string): () => void;
}

export interface MetricsOptions {
  /** For chorus_llm_cost_usd_total; without it the family stays empty. */
  prices?: PriceTable;
  /** Node process metrics (CPU, memory, event loop lag, GC), also prefixed chorus_. Default true. */
  processMetrics?: boolean;
}

export interface Metrics {
  registry: Registry;
  /** One finished HTTP request, labelled by its route pattern (never the raw path). */
  request(method: string, route: string, status: number): void;
  /** A request refused with 429 or 503, by the contract's code. */
  rejected(code: string): void;
  /** One upstream call as it ended (FanOutDeps.onCall). */
  call(call: CallRecord): void;
  /** A crashed run counts with code internal_error. */
  runs: RunObserver;
  /** The quota, with chorus_open_streams following every stream it opens and releases. */
  countStreams(quota: StreamQuota): StreamQuota;
}

const seconds = (ms: number) => ms / 1000;

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "chorus_" });

  const requests = new Counter({
    name: "chorus_http_requests_total",
    help: "HTTP requests answered, by method, matched route pattern and status (SSE streams count when they end).",
    labelNames: ["method", "route", "status"] as const,
    registers,
  });
  const rejections = new Counter({
    name: "chorus_rejections_total",
    help: "Requests refused for load: 429 rate_limited (rate limit or stream quota), 503 overloaded or shutting_down.",
    labelNames: ["code"] as const,
    registers,
  });
  const runs = new Counter({
    name: "chorus_runs_total",
    help: "Runs ended, by final status (ok, partial, error) and run error code (none when not an error).",
    labelNames: ["status", "code"] as const,
    registers,
  });
  const runsInFlight = new Gauge({ name: "chorus_runs_in_flight", help: "Runs started and not yet ended.", registers });
  const openStreams = new Gauge({
    name: "chorus_open_streams",
    help: "Client connections following a run (SSE streams and chat completions).",
    registers,
  });
  const runDuration = new Histogram({
    name: "chorus_run_duration_seconds",
    help: "Whole runs, from start to the done or error event, by final status.",
    labelNames: ["status"] as const,
    buckets: [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300],
    registers,
  });
  const calls = new Counter({
    name: "chorus_upstream_calls_total",
    help: "Upstream LLM calls, by stage (agent, review, judge, summarizer), caller (agent name, review:<agent>, judge or summarizer), model and outcome (ok or the error code).",
    labelNames: ["stage", "agent", "model", "outcome"] as const,
    registers,
  });
  const callDuration = new Histogram({
    name: "chorus_upstream_call_duration_seconds",
    help: "Upstream LLM calls, from start (budget wait included) to their end, successful or not, by stage and caller.",
    labelNames: ["stage", "agent"] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120],
    registers,
  });
  const firstToken = new Histogram({
    name: "chorus_summarizer_first_token_seconds",
    help: "Time from the start of a summarizer call to its first token.",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30],
    registers,
  });
  const tokens = new Counter({
    name: "chorus_llm_tokens_total",
    help: 'Tokens consumed, by agent (or summarizer), model, direction (input, output) and whether estimated ("true" when the upstream sent no count).',
    labelNames: ["agent", "model", "direction", "estimated"] as const,
    registers,
  });
  const cost = new Counter({
    name: "chorus_llm_cost_usd_total",
    help: "Estimated cost in USD from the price table, by agent (or summarizer) and model.",
    labelNames: ["agent", "model"] as const,
    registers,
  });

  return {
    registry,
    request: (method, route, status) => requests.inc({ method, route, status: String(status) }),
    rejected: (code) => rejections.inc({ code }),
    call(c) {
      const stage = stageOf(c.caller);
      calls.inc({ stage, agent: c.caller, model: c.model, outcome: c.outcome });
      callDuration.observe({ stage, agent: c.caller }, seconds(c.latency_ms));
      if (c.caller === "summarizer" && c.first_token_ms !== undefined) firstToken.observe(seconds(c.first_token_ms));
      if (!c.usage) return;
      const labels = { agent: c.caller, model: c.model, estimated: String(c.usage.estimated === true) };
      tokens.inc({ ...labels, direction: "input" }, c.usage.prompt_tokens);
      tokens.inc({ ...labels, direction: "output" }, c.usage.completion_tokens);
      const usd = costUsd(opts.prices, c.model, c.usage);
      if (usd !== undefined) cost.inc({ agent: c.caller, model: c.model }, usd);
    },
    runs: {
      started: () => runsInFlight.inc(),
      finished(outcome) {
        runsInFlight.dec();
        const status = outcome?.status ?? "error";
        runs.inc({ status, code: outcome ? (outcome.code ?? "none") : "internal_error" });
        if (outcome) runDuration.observe({ status }, seconds(outcome.latency_ms));
      },
    },
    countStreams: (quota) => ({
      open(key) {
        const release = quota.open(key); // throws 429 past the bound: then nothing was opened
        openStreams.inc();
        let released = false;
        return () => {
          if (released) return;
          released = true;
          openStreams.dec();
          release();
        };
      },
    }),
  };
}
