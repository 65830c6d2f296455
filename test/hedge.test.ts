// Hedged first-token requests (LLM_HEDGE), in-process against a scripted model: a late first
// token gets a second attempt, the loser is aborted the moment the winner's first token arrives,
// the budget caps how many calls are hedged, both attempts are counted in usage and metrics, and
// nothing is hedged when the feature is off.
import pLimit from "p-limit";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/env.js";
import type { Prompt } from "../src/config/prompts.js";
import { CallError } from "../src/errors.js";
import { Hedger } from "../src/llm/hedge.js";
import type { ChatChunk, ChatRequest, LlmClient } from "../src/llm/llm-client.js";
import { createUpstreamBudgets } from "../src/llm/upstream-budget.js";
import type { UpstreamTarget } from "../src/llm/upstream-target.js";
import { createMetrics } from "../src/observability/metrics.js";
import type { FanOutDeps } from "../src/run/context.js";
import { runFanOut } from "../src/run/fan-out.js";
import { guardedCall } from "../src/run/guarded-call.js";
import type { CallRecord } from "../src/run/outcome.js";
import { sample } from "./support/prometheus.js";

/** How one attempt behaves: `signal` is that attempt's own (aborted when it loses). */
type Behaviour = (signal: AbortSignal) => AsyncIterable<ChatChunk>;

const tokens = async function* (...texts: string[]): AsyncGenerator<ChatChunk> {
  for (const text of texts) yield { type: "delta", text };
};
/** Answers at once. */
const prompt =
  (...texts: string[]): Behaviour =>
  () =>
    tokens(...texts);
/** Sends nothing until aborted, then fails as an aborted call does. */
const silent: Behaviour = (signal) => ({
  async *[Symbol.asyncIterator]() {
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    throw signal.reason;
  },
});
/** Answers after `ms`, unless aborted first. */
const after =
  (ms: number, ...texts: string[]): Behaviour =>
  (signal) => ({
    async *[Symbol.asyncIterator]() {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
      });
      if (signal.aborted) throw signal.reason;
      yield* tokens(...texts);
    },
  });
/** Fails after `ms` without a token. */
const failsAfter =
  (ms: number): Behaviour =>
  (signal) => ({
    async *[Symbol.asyncIterator]() {
      await new Promise((resolve) => setTimeout(resolve, ms));
      if (signal.aborted) throw signal.reason;
      throw new CallError("upstream_error", "upstream LLM call failed");
    },
  });
const failing: Behaviour = () => ({
  async *[Symbol.asyncIterator]() {
    throw new CallError("upstream_error", "upstream LLM call failed");
  },
});

/** A scripted LlmClient: each upstream request takes the next behaviour of the queue. */
function scripted() {
  const queue: Behaviour[] = [];
  const requests: ChatRequest[] = [];
  const llm: LlmClient = {
    stream(req) {
      requests.push(req);
      const b = queue.shift();
      if (!b) throw new Error("the script has no more upstream calls");
      return b(req.signal);
    },
  };
  return { llm, requests, next: (...bs: Behaviour[]) => queue.push(...bs), clear: () => queue.splice(0) };
}

const target: UpstreamTarget = { model: "m", baseURL: "http://upstream.test/v1", apiKey: "k", rpm: 0, label: "http://upstream.test/v1 m" };
const agent = (name: string): Prompt => ({ name, system: `You are the ${name}.`, settings: {} as Prompt["settings"] });

function setup(hedger?: Hedger, withTarget: UpstreamTarget = target) {
  const s = scripted();
  const records: CallRecord[] = [];
  const metrics = createMetrics({ processMetrics: false });
  const agents = [agent("analyst")];
  const deps: FanOutDeps = {
    llm: s.llm,
    prompts: { agents, summarizer: agent("summarizer") },
    agentTargets: new Map(agents.map((a) => [a.name, withTarget])),
    summarizerTargets: [withTarget],
    budgets: createUpstreamBudgets(),
    limit: pLimit(100),
    settings: {
      agentTimeoutMs: 60_000,
      summarizerTimeoutMs: 60_000,
      firstTokenTimeoutMs: 60_000,
      summarizerFirstTokenTimeoutMs: 60_000,
      stallTimeoutMs: 60_000,
      fanOutDeadlineMs: 0,
      minAgentsOk: 1,
    },
    onCall: (r) => {
      records.push(r);
      metrics.call(r);
    },
    ...(hedger ? { hedger } : {}),
  };
  const call = (onDelta: (t: string) => void = () => {}) =>
    guardedCall(deps, {
      caller: "analyst",
      target: withTarget,
      prompt: agents[0]!,
      messages: [{ role: "user", content: "Why is the sky blue?" }],
      timeoutMs: 60_000,
      firstTokenTimeoutMs: 60_000,
      runSignal: new AbortController().signal,
      onDelta,
    });
  /** Calls that answer at once, so that the hedger learns a first-token time near zero. */
  const warm = async (n: number) => {
    for (let i = 0; i < n; i++) {
      s.next(prompt("fast"));
      await call();
    }
  };
  const hedges = async (labels: Record<string, string> = {}) => sample(await metrics.registry.metrics(), "chorus_llm_hedges_total", labels);
  return { ...s, deps, records, call, warm, hedges };
}

// A threshold of its floor (20 ms) once 4 near-instant first tokens were seen.
const hedger = (budget = 1) => new Hedger({ budget, minSamples: 4, floorMs: 20 });

describe("hedged first-token requests", () => {
  it("sends a second attempt when the first token is late, and aborts the first when the second's first token arrives", async () => {
    const t = setup(hedger());
    await t.warm(4);
    t.next(silent, prompt("hedged ", "answer"));
    let firstAbortedAtFirstToken: boolean | undefined;
    const { text, usage } = await t.call(() => (firstAbortedAtFirstToken ??= t.requests[4]!.signal.aborted));

    expect(text).toBe("hedged answer");
    expect(t.requests).toHaveLength(6);
    expect(t.requests[5]!.messages).toEqual(t.requests[4]!.messages);
    // Aborted before the winner's first token was handed on, not at the end of the call.
    expect(firstAbortedAtFirstToken).toBe(true);
    expect((t.requests[4]!.signal.reason as CallError).code).toBe("cancelled");
    expect(t.requests[5]!.signal.aborted).toBe(false);
    // Both attempts were paid: the loser's prompt is in the (estimated) usage, and it says so.
    expect(usage).toMatchObject({ hedged_calls: 1, estimated: true, completion_tokens: 4 });
    expect(usage!.prompt_tokens).toBe(2 * Math.ceil("Why is the sky blue?".length / 4));
    expect(t.records.at(-1)).toMatchObject({ outcome: "ok", hedge: "hedge" });
    expect(await t.hedges({ agent: "analyst", winner: "hedge" })).toBe(1);
  });

  it("keeps the first attempt when it answers before the hedge, and aborts the hedge then", async () => {
    const t = setup(hedger());
    await t.warm(4);
    t.next(after(150, "late ", "but ", "first"), silent);
    const { text, usage } = await t.call();
    expect(text).toBe("late but first");
    expect(t.requests).toHaveLength(6);
    expect(t.requests[5]!.signal.aborted).toBe(true);
    expect(t.requests[4]!.signal.aborted).toBe(false);
    expect(usage).toMatchObject({ hedged_calls: 1 });
    expect(await t.hedges({ winner: "first" })).toBe(1);
  });

  it("answers from the other attempt when one fails, and fails the call only when both do", async () => {
    const t = setup(hedger());
    await t.warm(4);
    t.next(after(150, "still ", "there"), failing);
    await expect(t.call()).resolves.toMatchObject({ text: "still there" });
    expect(t.requests).toHaveLength(6);
    expect(t.records.at(-1)).toMatchObject({ outcome: "ok", hedge: "first" });

    t.next(failsAfter(100), failing);
    await expect(t.call()).rejects.toMatchObject({ code: "upstream_error" });
    expect(t.requests).toHaveLength(8);
    expect(t.records.at(-1)).toMatchObject({ outcome: "upstream_error", hedge: "none" });
  });

  it("hedges no more calls than the budget allows", async () => {
    // 0.25 a call: 4 warm calls save one hedge, the next three calls earn less than another.
    const t = setup(hedger(0.25));
    await t.warm(4);
    for (let i = 0; i < 3; i++) {
      t.next(after(120, "slow"), silent);
      await expect(t.call()).resolves.toMatchObject({ text: "slow" });
      t.clear(); // the hedge's behaviour, when no hedge was sent
    }
    const hedged = t.records.filter((r) => r.hedge).length;
    expect(hedged).toBe(1);
    expect(t.requests).toHaveLength(4 + 3 + 1);
  });

  it("never hedges when off (the default), nor on an endpoint with a request budget", async () => {
    expect(parseConfig({}).LLM_HEDGE).toBe(false);
    expect(parseConfig({ LLM_HEDGE: "true", LLM_HEDGE_BUDGET: "0.1" })).toMatchObject({ LLM_HEDGE: true, LLM_HEDGE_BUDGET: 0.1 });
    expect(() => parseConfig({ LLM_HEDGE_BUDGET: "2" })).toThrow(/LLM_HEDGE_BUDGET/);

    const off = setup();
    await off.warm(4);
    off.next(after(120, "slow"));
    await expect(off.call()).resolves.toMatchObject({ text: "slow" });
    expect(off.requests).toHaveLength(5);
    expect(off.records.some((r) => r.hedge)).toBe(false);

    const budgeted = setup(hedger(), { ...target, rpm: 100_000 });
    await budgeted.warm(4);
    budgeted.next(after(120, "slow"));
    await budgeted.call();
    expect(budgeted.requests).toHaveLength(5);
  });

  it("reports hedged calls in the run's usage", async () => {
    const t = setup(hedger());
    await t.warm(4);
    t.next(silent, prompt("agent ", "answer"), prompt("the ", "summary"));
    const events: { event: string; data: unknown }[] = [];
    const outcome = await runFanOut(
      t.deps,
      { messageId: "m1", message: "Why?", agents: t.deps.prompts.agents, streamAgents: false, signal: new AbortController().signal },
      (event, data) => void events.push({ event, data }),
    );
    expect(outcome.status).toBe("ok");
    const done = events.find((e) => e.event === "done")!.data as { usage: { hedged_calls?: number }; summary: string };
    expect(done.summary).toBe("the summary");
    expect(done.usage.hedged_calls).toBe(1);
    expect(events.find((e) => e.event === "agent_done")!.data).toMatchObject({ output: "agent answer", usage: { hedged_calls: 1 } });
  });
});
