// Hedged first-token requests (LLM_HEDGE), in-process against a scripted model: a late first
// token gets a second attempt, the loser is aborted the moment the winner's first token arrives,
// the budget caps how many calls are hedged, both attempts are counted in usage and metrics, and
// nothing is hedged when the feature is off.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/env.js";
import { Hedger } from "../src/llm/hedge.js";
import { createMetrics } from "../src/observability/metrics.js";
import type { FanOutDeps } from "../src/run/fan-out.js";
import { guardedCall } from "../src/run/guarded-call.js";
import { runInProcess, target, testDeps } from "./support/in-process-run.js";
import { sample } from "./support/prometheus.js";
import { fail, scriptedLlm, stall, wait, type Script } from "./support/scripted-llm.js";

const QUESTION = "Why is the sky blue?";
/** Four calls that answer at once: the hedger learns a first-token time near zero. */
const WARM: Script[] = [["fast"], ["fast"], ["fast"], ["fast"]];
// Hedge once the first token is later than 20 ms (the floor), after 4 first tokens were seen.
const hedger = (budget = 1) => new Hedger({ budget, minSamples: 4, floorMs: 20 });

/** The agent "alpha" alone, calling through guardedCall, with metrics; `scripts` are its calls in order. */
function setup(scripts: Script[], opts: { hedger?: Hedger; rpm?: number } = {}) {
  const llm = scriptedLlm({ alpha: scripts });
  const metrics = createMetrics({ processMetrics: false });
  const deps: FanOutDeps = { ...testDeps(llm, { agents: ["alpha"] }), onCall: metrics.call, ...(opts.hedger ? { hedger: opts.hedger } : {}) };
  const alpha = { ...target("alpha-model"), rpm: opts.rpm ?? 0 };
  const call = (onDelta: (t: string) => void = () => {}) =>
    guardedCall(deps, {
      caller: "alpha",
      target: alpha,
      prompt: deps.prompts.agents[0]!,
      messages: [{ role: "user", content: QUESTION }],
      timeoutMs: 10_000,
      firstTokenTimeoutMs: 10_000,
      runSignal: new AbortController().signal,
      onDelta,
    });
  const warm = async () => {
    for (let i = 0; i < WARM.length; i++) await call();
  };
  const records: { hedge?: string; outcome: string }[] = [];
  const onCall = deps.onCall!;
  deps.onCall = (r) => (records.push(r), onCall(r));
  const hedges = async (labels: Record<string, string> = {}) => sample(await metrics.registry.metrics(), "chorus_llm_hedges_total", labels);
  return { llm, deps, call, warm, records, hedges };
}

describe("hedged first-token requests", () => {
  it("sends a second attempt when the first token is late, and aborts the first when the second's first token arrives", async () => {
    const t = setup([...WARM, [stall()], ["hedged ", "answer"]], { hedger: hedger() });
    await t.warm();
    let firstAbortedAtFirstToken: boolean | undefined;
    const { text, usage } = await t.call(() => (firstAbortedAtFirstToken ??= t.llm.calls[4]!.signal.aborted));

    expect(text).toBe("hedged answer");
    expect(t.llm.calls).toHaveLength(6);
    expect(t.llm.calls[5]!.messages).toEqual(t.llm.calls[4]!.messages);
    // Aborted before the winner's first token was handed on, not at the end of the call.
    expect(firstAbortedAtFirstToken).toBe(true);
    expect(t.llm.calls[4]!.ended).toBe("aborted");
    expect(t.llm.calls[5]!.ended).toBe("completed");
    // Both attempts were paid: the loser's prompt is in the (estimated) usage, and it says so.
    expect(usage).toMatchObject({ hedged_calls: 1, estimated: true, completion_tokens: 4 });
    expect(usage!.prompt_tokens).toBe(2 * Math.ceil(QUESTION.length / 4));
    expect(t.records.at(-1)).toMatchObject({ outcome: "ok", hedge: "hedge" });
    expect(await t.hedges({ agent: "alpha", winner: "hedge" })).toBe(1);
  });

  it("keeps the first attempt when it answers before the hedge, and aborts the hedge then", async () => {
    const t = setup([...WARM, [wait(150), "late ", "but ", "first"], [stall()]], { hedger: hedger() });
    await t.warm();
    const { text, usage } = await t.call();
    expect(text).toBe("late but first");
    expect(t.llm.calls).toHaveLength(6);
    expect(t.llm.calls[5]!.ended).toBe("aborted");
    expect(t.llm.calls[4]!.ended).toBe("completed");
    expect(usage).toMatchObject({ hedged_calls: 1 });
    expect(await t.hedges({ winner: "first" })).toBe(1);
  });

  it("answers from the other attempt when one fails, and fails the call only when both do", async () => {
    const t = setup([...WARM, [wait(150), "still ", "there"], [fail("upstream_error")], [wait(100), fail("upstream_error")], [fail("bad_response")]], {
      hedger: hedger(),
    });
    await t.warm();
    await expect(t.call()).resolves.toMatchObject({ text: "still there" });
    expect(t.llm.calls).toHaveLength(6);
    expect(t.records.at(-1)).toMatchObject({ outcome: "ok", hedge: "first" });

    await expect(t.call()).rejects.toMatchObject({ code: "upstream_error" });
    expect(t.llm.calls).toHaveLength(8);
    expect(t.records.at(-1)).toMatchObject({ outcome: "upstream_error", hedge: "none" });
  });

  it("hedges no more calls than the budget allows", async () => {
    // 0.25 a call: the 4 warm calls save one hedge; the next three calls earn less than another.
    // Each late call answers after 120 ms; a hedge, if sent, never answers.
    const late: Script = [wait(120), "slow"];
    const t = setup([...WARM, late, [stall()], late, late, late], { hedger: hedger(0.25) });
    await t.warm();
    for (let i = 0; i < 3; i++) await expect(t.call()).resolves.toMatchObject({ text: "slow" });
    expect(t.records.filter((r) => r.hedge)).toHaveLength(1);
    expect(t.llm.calls).toHaveLength(4 + 3 + 1);
  });

  it("never hedges when off (the default), nor on an endpoint with a request budget", async () => {
    expect(parseConfig({}).LLM_HEDGE).toBe(false);
    expect(parseConfig({ LLM_HEDGE: "true", LLM_HEDGE_BUDGET: "0.1" })).toMatchObject({ LLM_HEDGE: true, LLM_HEDGE_BUDGET: 0.1 });
    expect(() => parseConfig({ LLM_HEDGE_BUDGET: "2" })).toThrow(/LLM_HEDGE_BUDGET/);

    const late: Script = [wait(120), "slow"];
    const off = setup([...WARM, late]);
    await off.warm();
    await expect(off.call()).resolves.toMatchObject({ text: "slow" });
    expect(off.llm.calls).toHaveLength(5);
    expect(off.records.some((r) => r.hedge)).toBe(false);

    const budgeted = setup([...WARM, late], { hedger: hedger(), rpm: 100_000 });
    await budgeted.warm();
    await expect(budgeted.call()).resolves.toMatchObject({ text: "slow" });
    expect(budgeted.llm.calls).toHaveLength(5);
  });

  it("reports hedged calls in the run's usage", async () => {
    const llm = scriptedLlm({ alpha: [...WARM, [stall()], ["agent ", "answer"]], summarizer: ["the ", "summary"] });
    const deps = { ...testDeps(llm, { agents: ["alpha"] }), hedger: hedger() };
    for (let i = 0; i < WARM.length; i++) await runInProcess(deps);
    const run = await runInProcess(deps);
    expect(run.terminal).toMatchObject({ event: "done", data: { summary: "the summary", usage: { hedged_calls: 1 } } });
    expect(run.of("agent_done")[0]).toMatchObject({ output: "agent answer", usage: { hedged_calls: 1 } });
    expect(llm.callsOf("alpha")).toHaveLength(6);
  });
});
