// Tracing: one trace per run, a chorus.run span with a child per upstream call, the caller's
// traceparent honoured, and each upstream request carrying its own call's span as traceparent.
// Spans go to an in-memory exporter through a provider handed to createApp (nothing global).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { SpanStatusCode } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/env.js";
import { createTracerProvider } from "../src/observability/tracing.js";
import { callerOf, startMockUpstream, type MockUpstream } from "./support/mock-upstream.js";
import { last, readSse } from "./support/sse-client.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

let upstream: MockUpstream;
let exporter: InMemorySpanExporter;
let provider: BasicTracerProvider;
let servers: TestChorus[] = [];

beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => {
  upstream.calls.length = 0;
  upstream.setPlanner((b) => (callerOf(b) === "critic" ? { status: 500 } : {}));
  exporter = new InMemorySpanExporter();
  provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
});
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  await provider.shutdown();
});

const start = async (env: Record<string, string> = {}, traced = true) => {
  const s = await startChorus(
    { USE_LLM_MOCK: "false", LLM_BASE_URL: upstream.url, LLM_KEY: "sk-main", LLM_MAX_RETRIES: "0", ...env },
    traced ? { tracerProvider: provider } : {},
  );
  servers.push(s);
  return s;
};

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID = "00f067aa0ba902b7";
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

const named = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);
const attr = (s: ReadableSpan, key: string) => s.attributes[key];
/** The one run span, once the runner has ended it (just after the last event is written). */
async function runSpan(): Promise<ReadableSpan> {
  await expect.poll(() => named("chorus.run").length).toBe(1);
  return named("chorus.run")[0]!;
}

describe("tracing on", () => {
  it("makes one trace per run: chorus.run with a child span per agent and summarizer call", async () => {
    const chorus = await start();
    const res = await readSse(`${chorus.url}/api/process`, { message: "Trace me", message_id: "trace-1" });
    expect(last(res)).toMatchObject({ event: "done", data: { status: "partial" } });

    const run = await runSpan();
    const agents = named("chorus.agent");
    const summarizers = named("chorus.summarizer");
    expect(agents).toHaveLength(3);
    expect(summarizers).toHaveLength(1);
    expect(exporter.getFinishedSpans()).toHaveLength(5);

    const traceId = run.spanContext().traceId;
    expect(run.parentSpanContext).toBeUndefined(); // no caller context: the run starts the trace
    for (const s of [...agents, ...summarizers]) {
      expect(s.spanContext().traceId).toBe(traceId);
      expect(s.parentSpanContext?.spanId).toBe(run.spanContext().spanId);
    }

    expect(run.attributes).toMatchObject({ "chorus.message_id": "trace-1", "chorus.agents.count": 3, "chorus.run.status": "partial" });
    expect(attr(run, "chorus.usage.output_tokens")).toBeGreaterThan(0);
    expect(attr(run, "chorus.run.code")).toBeUndefined();
    expect(run.status.code).not.toBe(SpanStatusCode.ERROR);

    const byAgent = new Map(agents.map((s) => [attr(s, "chorus.agent.name"), s]));
    expect([...byAgent.keys()].sort()).toEqual(["analyst", "critic", "explainer"]);
    const critic = byAgent.get("critic")!;
    expect(critic.status.code).toBe(SpanStatusCode.ERROR);
    expect(attr(critic, "chorus.call.outcome")).toBe("upstream_error");
    expect(attr(critic, "error.type")).toBe("upstream_error");
    const analyst = byAgent.get("analyst")!;
    expect(analyst.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(analyst.attributes).toMatchObject({ "chorus.call.outcome": "ok", "gen_ai.request.model": chorus.config.LLM_MODEL });
    expect(attr(analyst, "chorus.call.latency_ms")).toEqual(expect.any(Number));
    expect(attr(analyst, "chorus.call.first_token_ms")).toEqual(expect.any(Number));
    expect(attr(analyst, "gen_ai.usage.input_tokens")).toBe(10); // the mock upstream's count
    expect(attr(analyst, "gen_ai.usage.output_tokens")).toBeGreaterThan(0);
    expect(attr(summarizers[0]!, "chorus.call.outcome")).toBe("ok");

    // Each upstream request named its own call's span.
    expect(upstream.calls).toHaveLength(4);
    const spanIdOf = new Map<unknown, string>(agents.map((s) => [attr(s, "chorus.agent.name"), s.spanContext().spanId]));
    spanIdOf.set("moderator", summarizers[0]!.spanContext().spanId);
    for (const call of upstream.calls) {
      const [, trace, span] = TRACEPARENT.exec(call.traceparent ?? "") ?? [];
      expect(trace, `traceparent of ${callerOf(call.body)}`).toBe(traceId);
      expect(span).toBe(spanIdOf.get(callerOf(call.body)));
    }
  });

  it("makes the run a child of the caller's traceparent and passes tracestate on", async () => {
    const chorus = await start();
    const res = await chorus.post(
      { message: "Traced from outside", message_id: "trace-2" },
      { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01`, tracestate: "vendor=abc" },
    );
    await res.text(); // no heartbeat in a run this short
    const run = await runSpan();
    expect(run.spanContext().traceId).toBe(TRACE_ID);
    expect(run.parentSpanContext?.spanId).toBe(PARENT_SPAN_ID);
    expect(run.spanContext().traceState?.get("vendor")).toBe("abc");
    expect(upstream.calls).toHaveLength(4);
    for (const call of upstream.calls) expect(call.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
  });

  it("ignores a malformed traceparent: the run starts a new trace", async () => {
    const chorus = await start();
    await (await chorus.post({ message: "Bad context", message_id: "trace-3" }, { traceparent: "00-nothex-zz-01" })).text();
    const run = await runSpan();
    expect(run.parentSpanContext).toBeUndefined();
    expect(run.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it("takes the caller's traceparent on /v1/chat/completions too", async () => {
    const chorus = await start();
    const res = await fetch(`${chorus.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01` },
      body: JSON.stringify({ model: "chorus", messages: [{ role: "user", content: "Hello" }] }),
    });
    expect(res.status).toBe(200);
    await res.json();
    const run = await runSpan();
    expect(run.spanContext().traceId).toBe(TRACE_ID);
    expect(run.parentSpanContext?.spanId).toBe(PARENT_SPAN_ID);
    expect(String(attr(run, "chorus.message_id"))).toMatch(/^chatcmpl-/);
  });

  it("gives each summarizer attempt its span, the fallback included", async () => {
    upstream.setPlanner((b) => (callerOf(b) === "moderator" && b.model !== "backup-1" ? { status: 500 } : {}));
    const chorus = await start({ SUMMARIZER_FALLBACK_MODELS: "backup-1" });
    const res = await readSse(`${chorus.url}/api/process`, { message: "Fall back", message_id: "trace-4" });
    expect(last(res)).toMatchObject({ event: "done", data: { status: "ok" } });
    const run = await runSpan();
    const attempts = named("chorus.summarizer").sort((a, b) => (a.startTime[0] - b.startTime[0]) * 1e9 + (a.startTime[1] - b.startTime[1]));
    expect(attempts.map((s) => [attr(s, "gen_ai.request.model"), attr(s, "chorus.call.outcome")])).toEqual([
      [chorus.config.LLM_MODEL, "upstream_error"],
      ["backup-1", "ok"],
    ]);
    expect(attempts[0]!.status.code).toBe(SpanStatusCode.ERROR);
    for (const s of attempts) expect(s.parentSpanContext?.spanId).toBe(run.spanContext().spanId);
  });

  it("marks a failed run's span as an error with its code", async () => {
    upstream.setPlanner(() => ({ status: 500 }));
    const chorus = await start();
    const res = await readSse(`${chorus.url}/api/process`, { message: "All fail", message_id: "trace-5" });
    expect(last(res)).toMatchObject({ event: "error", data: { code: "all_agents_failed" } });
    const run = await runSpan();
    expect(run.status.code).toBe(SpanStatusCode.ERROR);
    expect(run.attributes).toMatchObject({ "chorus.run.status": "error", "chorus.run.code": "all_agents_failed" });
    expect(named("chorus.summarizer")).toHaveLength(0);
  });
});

describe("OTLP export", () => {
  it("is off without OTEL_EXPORTER_OTLP_ENDPOINT, and batches spans to <endpoint>/v1/traces, flushed on shutdown", async () => {
    expect(createTracerProvider(parseConfig({}))).toBeUndefined();
    const received: { path?: string; type?: string; body: string }[] = [];
    const collector = createServer(async (req, res) => {
      let body = "";
      for await (const c of req) body += c;
      received.push({ path: req.url, type: req.headers["content-type"], body });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
    await new Promise<void>((r) => collector.listen(0, "127.0.0.1", r));
    try {
      const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/`;
      const otlp = createTracerProvider(parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: "chorus-test" }))!;
      const chorus = await startChorus(
        { USE_LLM_MOCK: "false", LLM_BASE_URL: upstream.url, LLM_KEY: "sk-main", LLM_MAX_RETRIES: "0" },
        { tracerProvider: otlp },
      );
      servers.push(chorus);
      await (await chorus.post({ message: "Export me", message_id: "trace-otlp" })).text();
      await chorus.close();
      await otlp.shutdown(); // what index.ts does on SIGTERM: the batch is sent now, not in 5 s
      const sent = received.map((r) => r.body).join("\n");
      expect(received[0]).toMatchObject({ path: "/v1/traces", type: "application/json" });
      expect(sent).toContain('"chorus-test"');
      for (const name of ["chorus.run", "chorus.agent", "chorus.summarizer"]) expect(sent).toContain(`"${name}"`);
    } finally {
      await new Promise((r) => collector.close(r));
    }
  });
});

describe("tracing off", () => {
  it("sends no traceparent upstream and records no span", async () => {
    const chorus = await start({}, false);
    const res = await chorus.post(
      { message: "Untraced", message_id: "trace-off" },
      { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01` },
    );
    await res.text();
    expect(upstream.calls).toHaveLength(4);
    for (const call of upstream.calls) expect(call.traceparent).toBeUndefined();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });
});
