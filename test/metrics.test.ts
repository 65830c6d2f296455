// GET /metrics: every family moves as a real run goes (one agent failing), refusals are
// counted by the contract's code, routes are labelled by pattern, and METRICS_TOKEN closes it.
import { afterEach, describe, expect, it } from "vitest";
import { scrape } from "./support/prometheus.js";
import { parseSse, readSse, type SseEvent } from "./support/sse-client.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

let servers: TestChorus[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});
const start = async (env: Record<string, string> = {}) => {
  const s = await startChorus(env);
  servers.push(s);
  return s;
};

/** POSTs a run and hands back a reader, so that the test can look around while it streams. */
async function openRun(url: string, body: object) {
  const res = await fetch(`${url}/api/process`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  const events: SseEvent[] = [];
  const readSome = async () => {
    const { done, value } = await reader.read();
    if (done) return false;
    const parsed = parseSse((buf += decoder.decode(value, { stream: true })));
    buf = parsed.rest;
    events.push(...parsed.events);
    return true;
  };
  return { res, events, readSome, readToEnd: async () => { while (await readSome()); } };
}

describe("GET /metrics", () => {
  it("moves every family as a run with one failing agent goes", async () => {
    const chorus = await start({ MOCK_FAIL_AGENTS: "critic", MOCK_TOKEN_DELAY_MS: "20" });
    const before = await scrape(chorus.url);
    expect(before.status).toBe(200);
    expect(before.text).toContain("# TYPE chorus_runs_total counter");
    expect(before.get("chorus_process_cpu_user_seconds_total")).toBeGreaterThan(0); // default process metrics

    const run = await openRun(chorus.url, { message: "Count me", message_id: "metrics-1" });
    await run.readSome(); // the stream is open and the run has started
    const during = await scrape(chorus.url);
    expect(during.get("chorus_runs_in_flight")).toBe(1);
    expect(during.get("chorus_open_streams")).toBe(1);
    await run.readToEnd();
    expect(run.events.at(-1)).toMatchObject({ event: "done", data: { status: "partial" } });
    const analystUsage = run.events.find((e) => e.event === "agent_done" && e.data.agent === "analyst")!.data.usage;

    const after = await scrape(chorus.url);
    const moved = (name: string, labels?: Record<string, string>) => after.get(name, labels) - before.get(name, labels);
    const model = chorus.config.LLM_MODEL;
    expect(moved("chorus_http_requests_total", { method: "POST", route: "/api/process", status: "200" })).toBe(1);
    expect(moved("chorus_runs_total", { status: "partial", code: "none" })).toBe(1);
    expect(after.get("chorus_runs_in_flight")).toBe(0);
    expect(after.get("chorus_open_streams")).toBe(0);
    expect(moved("chorus_upstream_calls_total", { agent: "critic", model, outcome: "upstream_error" })).toBe(1);
    expect(moved("chorus_upstream_calls_total", { agent: "analyst", model, outcome: "ok" })).toBe(1);
    expect(moved("chorus_upstream_calls_total", { agent: "summarizer", model, outcome: "ok" })).toBe(1);
    for (const agent of ["analyst", "critic", "explainer", "summarizer"]) {
      expect(moved("chorus_upstream_call_duration_seconds_count", { agent })).toBe(1);
    }
    expect(moved("chorus_summarizer_first_token_seconds_count")).toBe(1);
    expect(moved("chorus_run_duration_seconds_count", { status: "partial" })).toBe(1);
    expect(after.get("chorus_run_duration_seconds_sum", { status: "partial" })).toBeGreaterThan(0.1);
    const tokens = (agent: string, direction: string) => moved("chorus_llm_tokens_total", { agent, model, direction, estimated: "false" });
    expect(tokens("analyst", "input")).toBe(analystUsage.prompt_tokens);
    expect(tokens("analyst", "output")).toBe(analystUsage.completion_tokens);
    expect(tokens("summarizer", "output")).toBeGreaterThan(0);
    expect(tokens("critic", "input")).toBe(0); // it failed before any token: nothing was consumed

    // Routes are labelled by their pattern, never by the path a client made up.
    await readSse(`${chorus.url}/api/process/metrics-1/events`);
    await fetch(`${chorus.url}/no/such/path-42`);
    const later = await scrape(chorus.url);
    expect(later.get("chorus_http_requests_total", { method: "GET", route: "/api/process/:message_id/events", status: "200" })).toBe(1);
    expect(later.get("chorus_http_requests_total", { route: "unmatched", status: "404" })).toBe(1);
    expect(later.text).not.toContain("path-42");
    expect(later.text).not.toContain("metrics-1");
  });

  it("counts 429 and 503 refusals by the contract's code", async () => {
    // MAX_QUEUED_RUNS=0: every new run is refused as overloaded; the third POST is over the budget.
    const chorus = await start({ MAX_QUEUED_RUNS: "0", RATE_LIMIT_POINTS: "2" });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await chorus.post({ message: "hi", message_id: `refused-${i}` })).status);
    expect(statuses).toEqual([503, 503, 429]);
    const m = await scrape(chorus.url);
    expect(m.get("chorus_rejections_total", { code: "overloaded" })).toBe(2);
    expect(m.get("chorus_rejections_total", { code: "rate_limited" })).toBe(1);
    expect(m.get("chorus_http_requests_total", { route: "/api/process", status: "429" })).toBe(1);
    expect(m.get("chorus_runs_total")).toBe(0);
  });

  it("keeps each app's metrics apart: two servers in one process", async () => {
    const a = await start();
    const b = await start();
    await readSse(`${a.url}/api/process`, { message: "only on a", message_id: "apart-1" });
    expect((await scrape(a.url)).get("chorus_runs_total", { status: "ok" })).toBe(1);
    expect((await scrape(b.url)).get("chorus_runs_total")).toBe(0);
  });

  it("is closed by METRICS_TOKEN (Bearer), and the token is never logged", async () => {
    const token = "metrics-token-0123456789";
    const chorus = await start({ METRICS_TOKEN: token });
    const without = await scrape(chorus.url);
    expect(without.status).toBe(401);
    expect(JSON.parse(without.text)).toMatchObject({ error: { code: "unauthorized" } });
    expect((await scrape(chorus.url, { authorization: "Bearer metrics-token-wrong-000000" })).status).toBe(401);
    expect((await scrape(chorus.url, { authorization: token })).status).toBe(401); // no scheme
    const ok = await scrape(chorus.url, { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain("chorus_http_requests_total");
    expect((await fetch(`${chorus.url}/health`)).status).toBe(200); // only /metrics is closed
    expect(chorus.logText()).not.toContain(token);
  });
});
