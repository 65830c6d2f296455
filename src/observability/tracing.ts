// OpenTelemetry tracing of runs: one trace per run, a `chorus.run` span with a child span per
// upstream call, named after its stage (`chorus.agent`, `chorus.review`, `chorus.judge`,
// `chorus.summarizer`, fallbacks included). A caller's W3C
// `traceparent` makes the run its child, and each upstream request carries a `traceparent`
// naming its own call's span. Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set: then there is no
// RunTracer at all and the hot path pays one `?.` per run and per call.
//
// Contexts are passed explicitly (no global context manager, tracer provider or propagator):
// several servers with their own providers can live in one process, as the tests need.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer, type TracerProvider } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { ATTR_ERROR_TYPE, ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { Config } from "../config/env.js";
import type { CountedUsage } from "../llm/llm-client.js";
import { stageOf, type CallRecord, type RunOutcome } from "../run/outcome.js";

/** The W3C trace context a run's caller sent (HTTP headers `traceparent`, `tracestate`). */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** Opens the span of each run. Absent (undefined) when tracing is off. */
export interface RunTracer {
  /** The run's span: a child of `parent` when it holds a valid traceparent, else a new trace. */
  startRun(messageId: string, agentCount: number, parent?: TraceCarrier): RunTrace;
}

export interface RunTrace {
  /** Opens the span of one upstream call of this run (an agent, the summarizer or a fallback). */
  startCall(caller: string, model: string): CallTrace;
  /** `undefined` when the run crashed. */
  end(outcome: RunOutcome | undefined): void;
}

export interface CallTrace {
  /** `traceparent` (and `tracestate`) naming this call's span: sent with the upstream request. */
  headers: Record<string, string>;
  end(call: CallRecord): void;
}

const propagator = new W3CTraceContextPropagator();
const carrierGetter = {
  keys: (c: TraceCarrier) => Object.keys(c),
  get: (c: TraceCarrier, key: string) => (key === "traceparent" || key === "tracestate" ? c[key] : undefined),
};
const headerSetter = { set: (h: Record<string, string>, key: string, value: string) => void (h[key] = value) };

const usageAttributes = (prefix: string, u: CountedUsage | undefined): Attributes =>
  u
    ? {
        [`${prefix}.input_tokens`]: u.prompt_tokens,
        [`${prefix}.output_tokens`]: u.completion_tokens,
        // True when the upstream sent no count and the tokens were estimated.
        [`${prefix}.estimated`]: u.estimated === true,
      }
    : {};

/** A RunTracer over any tracer provider: the OTLP one below, or a test's in-memory one. */
export function createRunTracer(provider: TracerProvider): RunTracer {
  const tracer: Tracer = provider.getTracer("chorus");
  return {
    startRun(messageId, agentCount, parent) {
      const parentContext = parent?.traceparent ? propagator.extract(ROOT_CONTEXT, parent, carrierGetter) : ROOT_CONTEXT;
      const run = tracer.startSpan(
        "chorus.run",
        { kind: SpanKind.INTERNAL, attributes: { "chorus.message_id": messageId, "chorus.agents.count": agentCount } },
        parentContext,
      );
      const runContext = trace.setSpan(ROOT_CONTEXT, run);
      return {
        startCall: (caller, model) => startCall(tracer, runContext, caller, model),
        end(outcome) {
          if (!outcome) {
            run.setAttributes({ "chorus.run.status": "error", "chorus.run.code": "internal_error", [ATTR_ERROR_TYPE]: "internal_error" });
            run.setStatus({ code: SpanStatusCode.ERROR, message: "internal_error" });
          } else {
            const ok = outcome.agents.filter((a) => a.status === "ok").length;
            run.setAttributes({
              "chorus.run.status": outcome.status,
              ...(outcome.code ? { "chorus.run.code": outcome.code, [ATTR_ERROR_TYPE]: outcome.code } : {}),
              "chorus.agents.ok": ok,
              "chorus.agents.failed": outcome.agents.length - ok,
              "chorus.latency_ms": outcome.latency_ms,
              ...usageAttributes("chorus.usage", outcome.usage),
              ...(outcome.usage ? { "chorus.usage.total_tokens": outcome.usage.total_tokens } : {}),
              ...(outcome.cost_usd !== undefined ? { "chorus.cost_usd": outcome.cost_usd } : {}),
            });
            // A partial run answered: only a run that ended in an error event is an error span.
            if (outcome.status === "error") run.setStatus({ code: SpanStatusCode.ERROR, message: outcome.code });
          }
          run.end();
        },
      };
    },
  };
}

function startCall(tracer: Tracer, runContext: Context, caller: string, model: string): CallTrace {
  const stage = stageOf(caller);
  // A reviewer's span names the agent it reviews for; the judge and the summarizer have none.
  const agent = stage === "agent" ? caller : stage === "review" ? caller.slice("review:".length) : undefined;
  const span: Span = tracer.startSpan(
    `chorus.${stage}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { ...(agent ? { "chorus.agent.name": agent } : {}), "chorus.stage": stage, "gen_ai.operation.name": "chat", "gen_ai.request.model": model },
    },
    runContext,
  );
  const headers: Record<string, string> = {};
  propagator.inject(trace.setSpan(runContext, span), headers, headerSetter);
  return {
    headers,
    end(call) {
      span.setAttributes({
        "chorus.call.outcome": call.outcome,
        "chorus.call.latency_ms": call.latency_ms,
        ...(call.first_token_ms !== undefined ? { "chorus.call.first_token_ms": call.first_token_ms } : {}),
        ...usageAttributes("gen_ai.usage", call.usage),
      });
      if (call.outcome !== "ok") {
        span.setAttribute(ATTR_ERROR_TYPE, call.outcome);
        span.setStatus({ code: SpanStatusCode.ERROR, message: call.outcome });
      }
      span.end();
    },
  };
}

/**
 * The exporting provider: batches spans to OTEL_EXPORTER_OTLP_ENDPOINT over OTLP/HTTP (at
 * `<endpoint>/v1/traces`, as the OTLP spec says for the base endpoint). Undefined when
 * tracing is off. The SDK still honours the standard OTEL_* knobs it reads itself
 * (OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, …). Shut it down on exit to flush.
 */
export function createTracerProvider(config: Pick<Config, "OTEL_EXPORTER_OTLP_ENDPOINT" | "OTEL_SERVICE_NAME">): BasicTracerProvider | undefined {
  if (!config.OTEL_EXPORTER_OTLP_ENDPOINT) return undefined;
  const url = `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "")}/v1/traces`;
  return new BasicTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.OTEL_SERVICE_NAME })),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  });
}
