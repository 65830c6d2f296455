// The orchestration in-process, against scripted model streams: every branch of the fan-out
// (failures, the three call guards, the fan-out deadline, the summarizer's fallbacks,
// cancellation, accounting) in milliseconds. A guard is only ever tested against a stream that
// can never satisfy it (a stall, an endless drip), so no outcome depends on the machine's speed.
import { describe, expect, it } from "vitest";
import { RunAbort } from "../src/run/outcome.js";
import { runInProcess, testDeps } from "./support/in-process-run.js";
import { drip, fail, scriptedLlm, stall, usage } from "./support/scripted-llm.js";

describe("agents and summary", () => {
  it("ends ok when every agent answers, with the summary streamed from the agents' answers", async () => {
    const llm = scriptedLlm({ alpha: ["Rayleigh ", "scattering."], beta: ["Blue light ", "scatters most."], gamma: ["Short waves."], summarizer: ["All ", "agree."] });
    const run = await runInProcess(testDeps(llm));
    expect(run.terminal.event).toBe("done");
    const done = run.of("done")[0]!;
    expect(done).toMatchObject({ message_id: "m-1", status: "ok", agents: { ok: 3, failed: 0 }, summary: "All agree." });
    expect(run.of("summary_delta").map((d) => d.delta)).toEqual(["All ", "agree."]);
    expect(run.of("agent_done").map((d) => [d.agent, d.output]).sort()).toEqual([
      ["alpha", "Rayleigh scattering."],
      ["beta", "Blue light scatters most."],
      ["gamma", "Short waves."],
    ]);
    // The summarizer reads the question and every answer, labelled with its agent.
    const summarizerUser = llm.callsOf("summarizer")[0]!.messages.at(-1)!.content;
    expect(summarizerUser).toContain("Why is the sky blue?");
    expect(summarizerUser).toContain("### beta (answered)\n\nBlue light scatters most.");
    expect(llm.calls.map((c) => c.model).sort()).toEqual(["alpha-model", "beta-model", "gamma-model", "summary-model"]);
    expect(run.outcome).toMatchObject({ status: "ok", summarizer: { ok: true, model: "summary-model" } });
  });

  it("ends partial when one agent fails, and tells the summarizer which one", async () => {
    const llm = scriptedLlm({ beta: ["half an answer", fail("upstream_error", "upstream LLM answered 500")] });
    const run = await runInProcess(testDeps(llm));
    expect(run.of("agent_error")).toEqual([
      expect.objectContaining({ agent: "beta", status: "error", error: { code: "upstream_error", message: "upstream LLM answered 500" } }),
    ]);
    expect(run.of("done")[0]).toMatchObject({ status: "partial", agents: { ok: 2, failed: 1 } });
    expect(llm.callsOf("summarizer")[0]!.messages.at(-1)!.content).toContain("- beta: upstream_error");
    expect(run.outcome.status).toBe("partial");
  });

  it("ends all_agents_failed without calling the summarizer", async () => {
    const failing = [fail("rate_limited")];
    const llm = scriptedLlm({ alpha: failing, beta: failing, gamma: [fail("bad_response")] });
    const run = await runInProcess(testDeps(llm));
    expect(run.terminal).toMatchObject({ event: "error", data: { code: "all_agents_failed" } });
    expect(run.terminal.data).not.toHaveProperty("outputs");
    expect(llm.callsOf("summarizer")).toHaveLength(0);
    expect(run.outcome).toMatchObject({ status: "error", code: "all_agents_failed" });
    expect(run.outcome.summarizer).toBeUndefined();
  });

  it("ends not_enough_agents when fewer than minAgentsOk answered", async () => {
    const llm = scriptedLlm({ alpha: [fail("upstream_error")], beta: [fail("upstream_error")] });
    const run = await runInProcess(testDeps(llm, { settings: { minAgentsOk: 2 } }));
    expect(run.terminal).toMatchObject({ event: "error", data: { code: "not_enough_agents", message: "1 agent(s) answered, 2 needed for a summary" } });
    expect(llm.callsOf("summarizer")).toHaveLength(0);
  });

  it("passes the conversation's history to every agent and to the summarizer, before the new message", async () => {
    const history = [
      { role: "user" as const, content: "What is light?" },
      { role: "assistant" as const, content: "Waves." },
    ];
    const llm = scriptedLlm({});
    await runInProcess(testDeps(llm), { history, message: "And its colour?" });
    for (const call of llm.calls) {
      expect(call.messages.slice(1, 3)).toEqual(history);
      expect(call.messages[0]!.role).toBe("system");
      expect(call.messages).toHaveLength(4);
    }
    expect(llm.callsOf("alpha")[0]!.messages[3]).toEqual({ role: "user", content: "And its colour?" });
    expect(llm.callsOf("summarizer")[0]!.messages[0]!.content).toBe("Combine the answers.");
  });

  it("streams agent_delta events only with stream_agents", async () => {
    const scripts = { alpha: ["a1", "a2"], beta: ["b1"], gamma: ["c1"] };
    const quiet = await runInProcess(testDeps(scriptedLlm(scripts)));
    expect(quiet.of("agent_delta")).toEqual([]);
    const loud = await runInProcess(testDeps(scriptedLlm(scripts)), { streamAgents: true });
    expect(loud.of("agent_delta").filter((d) => d.agent === "alpha").map((d) => d.delta)).toEqual(["a1", "a2"]);
    // Each agent's deltas come between its agent_start and its agent_done.
    const alpha = loud.events.filter((e) => "agent" in e.data && e.data.agent === "alpha").map((e) => e.event);
    expect(alpha).toEqual(["agent_start", "agent_delta", "agent_delta", "agent_done"]);
  });
});

describe("the call guards", () => {
  it("times out an agent that sends no first token", async () => {
    const llm = scriptedLlm({ alpha: [stall()] });
    const run = await runInProcess(testDeps(llm, { settings: { firstTokenTimeoutMs: 20 } }));
    expect(run.of("agent_error")[0]).toMatchObject({ agent: "alpha", status: "timeout", error: { code: "timeout", message: "no first token within 20 ms" } });
    expect(run.of("agent_error")[0]).not.toHaveProperty("usage");
    expect(llm.callsOf("alpha")[0]!.signal.aborted).toBe(true); // the upstream request is aborted, not left running
    expect(run.of("done")[0]).toMatchObject({ status: "partial" });
  });

  it("times out an agent that goes silent mid-answer, keeping what it received", async () => {
    const llm = scriptedLlm({ alpha: ["a start", stall()] });
    const run = await runInProcess(testDeps(llm, { settings: { stallTimeoutMs: 20 } }));
    const error = run.of("agent_error")[0]!;
    expect(error).toMatchObject({ agent: "alpha", status: "timeout", error: { message: "no token for 20 ms" } });
    // What arrived was paid for: counted, as an estimate since no usage chunk came.
    expect(error.usage).toMatchObject({ completion_tokens: 2, estimated: true });
  });

  it("cuts a call that streams forever at the whole-call cap", async () => {
    const llm = scriptedLlm({ alpha: [drip("tok ", 2)] });
    const run = await runInProcess(testDeps(llm, { settings: { agentTimeoutMs: 40 } }));
    expect(run.of("agent_error")[0]).toMatchObject({ agent: "alpha", status: "timeout", error: { message: "no complete answer within 40 ms" } });
    expect(llm.callsOf("alpha")[0]!.ended).toBe("aborted");
  });

  it("cuts the stragglers at the fan-out deadline once minAgentsOk have answered", async () => {
    const llm = scriptedLlm({ beta: [stall()], gamma: ["first words", stall()] });
    const run = await runInProcess(testDeps(llm, { settings: { fanOutDeadlineMs: 20, minAgentsOk: 1 } }));
    const cut = run.of("agent_error");
    expect(cut.map((e) => e.agent).sort()).toEqual(["beta", "gamma"]);
    for (const e of cut) expect(e.error.message).toBe("still running at the fan-out deadline (20 ms)");
    expect(run.of("done")[0]).toMatchObject({ status: "partial", agents: { ok: 1, failed: 2 } });
    expect(llm.callsOf("beta")[0]!.ended).toBe("aborted");
  });
});

describe("the summarizer", () => {
  it("falls back to the next model when the summarizer fails before its first token", async () => {
    const llm = scriptedLlm({ summarizer: [[stall()], [fail("upstream_error")], ["fallback ", "summary"]] });
    const deps = testDeps(llm, { fallbacks: ["fb-1", "fb-2"], settings: { summarizerFirstTokenTimeoutMs: 20 } });
    const run = await runInProcess(deps);
    expect(llm.callsOf("summarizer").map((c) => c.model)).toEqual(["summary-model", "fb-1", "fb-2"]);
    expect(run.of("done")[0]).toMatchObject({ status: "ok", summary: "fallback summary" });
    expect(run.outcome.summarizer).toMatchObject({ ok: true, model: "fb-2" });
    expect(deps.callRecords.filter((c) => c.caller === "summarizer").map((c) => c.outcome)).toEqual(["timeout", "upstream_error", "ok"]);
  });

  it("replaces a summarizer that fails after its first token: summary_restart, then the fallback's summary", async () => {
    const llm = scriptedLlm({ summarizer: [["Half a sum", fail("upstream_error", "upstream LLM answered 502")], ["Whole ", "summary"]] });
    const run = await runInProcess(testDeps(llm, { fallbacks: ["fb-1"] }));
    const restart = run.names.indexOf("summary_restart");
    expect(run.names.slice(restart - 1, restart + 3)).toEqual(["summary_delta", "summary_restart", "summary_delta", "summary_delta"]);
    expect(run.of("summary_restart")[0]).toEqual({ reason: { code: "upstream_error", message: "upstream LLM answered 502" } });
    expect(run.of("done")[0]).toMatchObject({ status: "ok", summary: "Whole summary" });
    expect(llm.callsOf("summarizer").map((c) => c.model)).toEqual(["summary-model", "fb-1"]);
  });

  it("ends summarizer_failed with the agents' outputs when the last summarizer fails after its first token", async () => {
    const llm = scriptedLlm({ alpha: ["A."], beta: [fail("timeout")], gamma: ["C."], summarizer: ["Half a sum", fail("upstream_error", "upstream LLM answered 502")] });
    const run = await runInProcess(testDeps(llm, { fallbacks: ["fb-1"] }));
    expect(run.terminal).toMatchObject({
      event: "error",
      data: { code: "summarizer_failed", message: "the summarizer failed: upstream LLM answered 502", outputs: { alpha: "A.", gamma: "C." } },
    });
    expect(llm.callsOf("summarizer")).toHaveLength(2);
    expect(run.names.filter((n) => n === "summary_restart")).toHaveLength(1);
    expect(run.outcome.summarizer).toMatchObject({ ok: false, code: "upstream_error" });
  });
});

describe("bounds", () => {
  it("aborts a call whose answer passes MAX_OUTPUT_CHARS (code points) with bad_response", async () => {
    const llm = scriptedLlm({ alpha: [drip("😀😀😀😀", 1)] });
    const run = await runInProcess(testDeps(llm, { settings: { maxOutputChars: 50 } }));
    const err = run.of("agent_error")[0]!;
    expect(err).toMatchObject({ agent: "alpha", error: { code: "bad_response" } });
    expect(err.error.message).toContain("MAX_OUTPUT_CHARS");
    expect(llm.callsOf("alpha")[0]!.signal.aborted).toBe(true); // the upstream request is aborted, not left running
    expect(run.of("done")[0]).toMatchObject({ status: "partial" });
  });
});

describe("cancellation", () => {
  it("ends cancelled mid-agents, aborting every call in flight", async () => {
    const llm = scriptedLlm({ alpha: [stall()], beta: ["partial", stall()], gamma: ["C."] });
    const controller = new AbortController();
    void llm.started("beta").then(() => controller.abort(new RunAbort("cancelled")));
    const run = await runInProcess(testDeps(llm), { controller });
    expect(run.terminal).toMatchObject({ event: "error", data: { code: "cancelled", message: "the run was cancelled" } });
    expect(llm.callsOf("alpha")[0]!.ended).toBe("aborted");
    expect(llm.callsOf("beta")[0]!.ended).toBe("aborted");
    expect(llm.callsOf("summarizer")).toHaveLength(0);
    for (const e of run.of("agent_error")) expect(e).toMatchObject({ status: "cancelled", error: { code: "cancelled" } });
  });

  it("ends cancelled mid-summary, aborting the summarizer and trying no fallback", async () => {
    const llm = scriptedLlm({ summarizer: ["So far", stall()] });
    const controller = new AbortController();
    void llm.started("summarizer").then(() => controller.abort(new RunAbort("cancelled")));
    const run = await runInProcess(testDeps(llm, { fallbacks: ["fb-1"] }), { controller });
    expect(run.terminal).toMatchObject({ event: "error", data: { code: "cancelled" } });
    expect(run.terminal.data).not.toHaveProperty("outputs");
    expect(llm.callsOf("summarizer")).toHaveLength(1);
    expect(llm.callsOf("summarizer")[0]!.ended).toBe("aborted");
  });

  it("ends shutting_down when the server drains", async () => {
    const llm = scriptedLlm({ alpha: [stall()] });
    const controller = new AbortController();
    void llm.started("alpha").then(() => controller.abort(new RunAbort("shutting_down")));
    const run = await runInProcess(testDeps(llm), { controller });
    expect(run.terminal).toMatchObject({ event: "error", data: { code: "shutting_down", message: "the server is shutting down" } });
    expect(run.outcome).toMatchObject({ status: "error", code: "shutting_down" });
  });
});

describe("usage and cost", () => {
  const prices = { "alpha-model": { input_per_1m: 1, output_per_1m: 2 }, "beta-model": { input_per_1m: 1, output_per_1m: 2 }, "summary-model": { input_per_1m: 10, output_per_1m: 10 } };

  it("bills every call, failed ones included, with the upstream's counts and costs", async () => {
    const llm = scriptedLlm({
      alpha: ["A.", usage(1000, 500)],
      beta: ["B.", usage(2000, 1000), fail("bad_response")],
      summarizer: ["S.", usage(100, 100)],
    });
    const run = await runInProcess(testDeps(llm, { agents: ["alpha", "beta"], prices }));
    expect(run.of("agent_done")[0]).toMatchObject({ agent: "alpha", usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 }, cost_usd: 0.002 });
    expect(run.of("agent_error")[0]).toMatchObject({ agent: "beta", usage: { total_tokens: 3000 }, cost_usd: 0.004 });
    const done = run.of("done")[0]!;
    expect(done.usage).toEqual({ prompt_tokens: 3100, completion_tokens: 1600, total_tokens: 4700 });
    expect(done.cost_usd).toBe(0.008);
    expect(run.outcome).toMatchObject({ usage: done.usage, cost_usd: 0.008 });
  });

  it("estimates the usage of a call whose upstream sent none, and marks the total estimated", async () => {
    const llm = scriptedLlm({ alpha: ["12345678"], summarizer: ["S.", usage(10, 1)] });
    const run = await runInProcess(testDeps(llm, { agents: ["alpha"], prices }), { message: "abcd" });
    const alpha = run.of("agent_done")[0]!;
    // ~4 characters a token: "You are alpha." (14 → 4) + "abcd" (1); "12345678" → 2.
    expect(alpha.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7, estimated: true });
    expect(run.of("done")[0]!.usage).toEqual({ prompt_tokens: 15, completion_tokens: 3, total_tokens: 18, estimated: true });
  });

  it("reports no cost when a model used has no price", async () => {
    const llm = scriptedLlm({ alpha: ["A.", usage(10, 10)] });
    const run = await runInProcess(testDeps(llm, { agents: ["alpha", "gamma"], prices }));
    expect(run.of("agent_done").find((d) => d.agent === "gamma")).not.toHaveProperty("cost_usd");
    expect(run.of("done")[0]).not.toHaveProperty("cost_usd");
    expect(run.of("done")[0]!.usage?.estimated).toBe(true);
  });
});
