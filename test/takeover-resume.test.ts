// Carrying on a run another replica died holding, in-process against scripted model streams:
// what its logged events say was done is kept (those calls are not made again), the unfinished
// agents are called again, and a summary that had begun starts over.
import { describe, expect, it } from "vitest";
import { EventLog } from "../src/run/event-log.js";
import { parseEvent, type RunEvent } from "../src/run/events.js";
import { runFanOut } from "../src/run/fan-out.js";
import { resumeFrom } from "../src/run/takeover.js";
import { testDeps } from "./support/in-process-run.js";
import { scriptedLlm } from "./support/scripted-llm.js";

/** The log a dead replica left behind, then the run carried on into it. */
async function carryOn(llm: ReturnType<typeof scriptedLlm>, logged: [string, object][]) {
  const prior = logged.map(([event, data], i) => parseEvent(i + 1, event, data));
  const log = new EventLog(prior);
  const deps = testDeps(llm);
  const outcome = await runFanOut(
    deps,
    { messageId: "m-1", message: "Why?", agents: deps.prompts.agents, streamAgents: true, signal: new AbortController().signal },
    (event, data) => void log.append(event, data),
    resumeFrom(prior),
  );
  const added = log.events.filter((e) => e.id > prior.length);
  return { outcome, added, names: added.map((e) => e.event), all: log.events };
}

const usage = { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 };
const started: [string, object][] = [
  ["start", { message_id: "m-1", agents: ["alpha", "beta", "gamma"] }],
  ["agent_start", { agent: "alpha" }],
  ["agent_start", { agent: "beta" }],
  ["agent_start", { agent: "gamma" }],
];

describe("a run taken over from a replica that died", () => {
  it("keeps the logged agent results, calls only the unfinished agent again, and goes on with the summary", async () => {
    const llm = scriptedLlm({ gamma: ["C ", "again."], summarizer: ["Sum."] });
    const { names, added, outcome, all } = await carryOn(llm, [
      ...started,
      ["agent_delta", { agent: "alpha", delta: "A." }],
      ["agent_done", { agent: "alpha", status: "ok", output: "A.", latency_ms: 5, usage }],
      ["agent_error", { agent: "beta", status: "timeout", error: { code: "timeout", message: "too slow" }, latency_ms: 9 }],
      ["agent_delta", { agent: "gamma", delta: "half of C" }],
    ]);
    expect(names.slice(0, 2)).toEqual(["takeover", "agent_start"]);
    expect(added[0]!.data).toEqual({ rerun: ["gamma"] });
    expect(added[0]!.id).toBe(9); // ids go on from the last one logged
    expect(llm.calls.map((c) => c.caller)).toEqual(["gamma", "summarizer"]);
    // The summarizer sees alpha's logged answer and gamma's new one.
    const prompt = llm.callsOf("summarizer")[0]!.messages.at(-1)!.content;
    expect(prompt).toContain("A.");
    expect(prompt).toContain("C again.");
    expect(names).not.toContain("summary_restart");
    expect(added.at(-1)).toMatchObject({ event: "done", data: { status: "partial", agents: { ok: 2, failed: 1 }, summary: "Sum." } });
    expect(outcome.agents.map((a) => a.status)).toEqual(["ok", "timeout", "ok"]);
    // Gamma's void half answer and its new tokens are folded into its agent_done once it ended.
    expect(all.filter((e) => e.event === "agent_delta")).toHaveLength(0);
    expect(all.find((e): e is Extract<RunEvent, { event: "agent_done" }> => e.event === "agent_done" && e.data.agent === "gamma")!.data.output).toBe("C again.");
    // The bill counts alpha's logged usage too.
    expect(outcome.usage?.prompt_tokens).toBeGreaterThanOrEqual(10);
  });

  it("starts the summary over (summary_restart) when summary tokens had been sent, calling no agent", async () => {
    const llm = scriptedLlm({ summarizer: ["New ", "summary."] });
    const { names, added } = await carryOn(llm, [
      ...started,
      ["agent_done", { agent: "alpha", status: "ok", output: "A.", latency_ms: 5 }],
      ["agent_done", { agent: "beta", status: "ok", output: "B.", latency_ms: 5 }],
      ["agent_done", { agent: "gamma", status: "ok", output: "C.", latency_ms: 5 }],
      ["summary_delta", { delta: "Old half" }],
    ]);
    expect(llm.calls.map((c) => c.caller)).toEqual(["summarizer"]);
    expect(names).toEqual(["takeover", "summary_restart", "summary_delta", "summary_delta", "done"]);
    expect(added[0]!.data).toEqual({ rerun: [] });
    expect(added.at(-1)).toMatchObject({ event: "done", data: { status: "ok", summary: "New summary." } });
  });

  it("starts the run from scratch, with start first, when the replica died before logging anything", async () => {
    const llm = scriptedLlm({});
    const { names } = await carryOn(llm, []);
    expect(names[0]).toBe("start");
    expect(names[1]).toBe("takeover");
    expect(llm.calls).toHaveLength(4);
  });
});
