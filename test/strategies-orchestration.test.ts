// The strategies in-process, against scripted model streams: the council's reviews and ranking,
// the fusion judge, rounds, the in-run budget stop and cancellation inside each later stage.
import { describe, expect, it } from "vitest";
import type { ChatMessage } from "../src/llm/llm-client.js";
import { RunAbort } from "../src/run/outcome.js";
import { runInProcess, testDeps } from "./support/in-process-run.js";
import { fail, scriptedLlm, stall, usage } from "./support/scripted-llm.js";

const ANSWERS = { alpha: ["Rayleigh scattering."], beta: ["Blue light scatters most."], gamma: ["Short waves."] };
const userOf = (messages: ChatMessage[]) => messages.at(-1)!.content;
/** Which agent each label stands for in a review prompt. */
const labelsOf = (messages: ChatMessage[]) =>
  Object.fromEntries(
    [...userOf(messages).matchAll(/<<<BEGIN (Response [A-Z])>>>\n([\s\S]*?)\n<<<END/g)].map((m) => [
      Object.entries(ANSWERS).find(([, a]) => a[0] === m[2])![0],
      m[1]!,
    ]),
  );

describe("council in-process", () => {
  it("reviews on each agent's model, ranks, and tells the summarizer the ranking", async () => {
    // The reviewers' replies are written after seeing their prompts: a script per call is fixed
    // in advance, so each ranks by position (A > B > C) and the test maps labels back to agents.
    const llm = scriptedLlm({ ...ANSWERS, "review:alpha": ["Thoughts.\n\n**FINAL RANKING:**\n1. **Response A**\n2. Response B\n3) Response C\n\nDone."], "review:beta": ["FINAL RANKING:\n1. Response C\n2. Response B\n3. Response A"], "review:gamma": ["no ranking here"] });
    const run = await runInProcess(testDeps(llm), { strategy: "council" });
    expect(run.names.filter((n) => n.startsWith("review") || n === "ranking")).toEqual(["review_start", "review_start", "review_start", "review_done", "review_done", "review_error", "ranking"]);
    expect(llm.callsOf("review:alpha")[0]!.model).toBe("alpha-model");
    const orders = ["alpha", "beta", "gamma"].map((r) => JSON.stringify(labelsOf(llm.callsOf(`review:${r}`)[0]!.messages)));
    expect(new Set(orders).size).toBe(3);
    const done = run.of("done")[0]!;
    expect(done.strategy).toBe("council");
    expect(done.ranking!.map((e) => e.reviews).reduce((a, b) => a + b)).toBe(4); // 2 reviews × 2 other answers
    expect(userOf(llm.callsOf("summarizer")[0]!.messages)).toContain("in the reviewers' ranking order");
  });
});

describe("fusion in-process", () => {
  it("feeds a valid analysis to the summarizer, and tolerates a chatty judge", async () => {
    const analysis = { consensus: ["blue"], contradictions: [], unique_insights: [{ agent: "gamma", insight: "wavelength" }], blind_spots: [] };
    const llm = scriptedLlm({ ...ANSWERS, judge: [`Sure. ${JSON.stringify(analysis)} Anything else?`] });
    const run = await runInProcess(testDeps(llm), { strategy: "fusion" });
    expect(run.of("analysis")).toEqual([analysis]);
    expect(llm.callsOf("judge")[0]!.model).toBe("judge-model");
    expect(userOf(llm.callsOf("summarizer")[0]!.messages)).toContain('"insight":"wavelength"');
  });
});

describe("rounds in-process", () => {
  it("round 2 sees round 1's answers; the summary the last round's", async () => {
    const llm = scriptedLlm({ alpha: [["first alpha"], ["second alpha"]], beta: [["first beta"], ["second beta"]], gamma: [["first gamma"], ["second gamma"]] });
    const run = await runInProcess(testDeps(llm), { rounds: 2 });
    expect(userOf(llm.callsOf("beta")[1]!.messages)).toContain("### alpha\n\n<<<BEGIN alpha>>>\nfirst alpha\n<<<END alpha>>>");
    expect(run.of("agent_done").filter((d) => d.round === 2).map((d) => d.output).sort()).toEqual(["second alpha", "second beta", "second gamma"]);
    const summary = userOf(llm.callsOf("summarizer")[0]!.messages);
    expect(summary).toContain("second alpha");
    expect(summary).not.toContain("first alpha");
  });
});

describe("budget in-process", () => {
  it("stops before the review stage once the measured spend passes max_cost_usd, keeping the outputs", async () => {
    const cheap = { input_per_1m: 0, output_per_1m: 0 };
    const prices = { "alpha-model": { input_per_1m: 1_000_000, output_per_1m: 1_000_000 }, "beta-model": cheap, "gamma-model": cheap, "summary-model": cheap };
    const llm = scriptedLlm({ alpha: ["pricey", usage(1, 1)], beta: ["b"], gamma: ["c"] });
    const run = await runInProcess(testDeps(llm, { prices }), { strategy: "council", maxCostUsd: 1 });
    expect(run.terminal).toMatchObject({ event: "error", data: { code: "budget_exceeded", outputs: { alpha: "pricey", beta: "b", gamma: "c" } } });
    expect(llm.calls.map((c) => c.caller).sort()).toEqual(["alpha", "beta", "gamma"]);
  });
});

describe("cancellation in-process", () => {
  for (const [stage, strategy, caller] of [
    ["review", "council", "review:beta"],
    ["judge", "fusion", "judge"],
  ] as const) {
    it(`aborts the ${stage} stage's calls and ends cancelled`, async () => {
      const llm = scriptedLlm({ ...ANSWERS, [caller]: [stall()] });
      const controller = new AbortController();
      const running = runInProcess(testDeps(llm), { strategy, controller });
      await llm.started(caller);
      controller.abort(new RunAbort("cancelled"));
      const run = await running;
      expect(run.terminal).toMatchObject({ event: "error", data: { code: "cancelled" } });
      expect(llm.callsOf(caller)[0]!.ended).toBe("aborted");
      expect(llm.callsOf("summarizer")).toHaveLength(0);
    });
  }

  it("a failed judge call gives analysis_error and a plain summary", async () => {
    const llm = scriptedLlm({ ...ANSWERS, judge: [fail("timeout", "no first token")] });
    const run = await runInProcess(testDeps(llm), { strategy: "fusion" });
    expect(run.of("analysis_error")).toEqual([{ error: { code: "timeout", message: "no first token" } }]);
    expect(run.of("done")[0]!.degraded).toEqual({ failed_agents: [], skipped: ["judge"] });
  });
});
