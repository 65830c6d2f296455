// Strategies end to end: council, fusion, rounds, presets and cost through a real server, the real
// openai SDK and a scriptable mock upstream. Each agent has its own model (model-<agent>), so the
// upstream knows which agent a reviewer call belongs to; the prompts folder has no review.md nor
// judge.md, so the shipped ones are used.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { callerOf, startMockUpstream, type ChatBody, type MockUpstream, type Plan } from "./support/mock-upstream.js";
import { last, names, ofType, readSse, type SseRead } from "./support/sse-client.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";
import { tempDir } from "./support/temp-dir.js";

const AGENTS = ["analyst", "critic", "explainer"];
/** Each agent's answer: no agent name in it, so a review prompt that leaks one is caught. */
const ANSWER: Record<string, string> = {
  analyst: "Mass bends spacetime and objects follow the curve.",
  critic: "Beware: weight and mass are not the same thing.",
  explainer: "Like a heavy ball on a trampoline pulling marbles in.",
};

function promptsDir(agentHeader = ""): string {
  const dir = tempDir("strategies");
  mkdirSync(join(dir, "agents"));
  for (const a of AGENTS) {
    const role = a[0]!.toUpperCase() + a.slice(1);
    writeFileSync(join(dir, "agents", `${a}.md`), `---\nmodel: model-${a}\nmax_tokens: 300\n${agentHeader}---\nYou are the ${role} on a panel. Answer well.\n`);
  }
  writeFileSync(join(dir, "summarizer.md"), readFileSync("prompts/summarizer.md", "utf8"));
  mkdirSync(join(dir, "presets"));
  writeFileSync(join(dir, "presets", "duo.md"), "---\ndescription: two agents, council\nagents: analyst, critic\nstrategy: council\n---\n");
  const prices = { "gpt-4o-mini": { input_per_1m: 1, output_per_1m: 4 }, ...Object.fromEntries(AGENTS.map((a) => [`model-${a}`, { input_per_1m: 2, output_per_1m: 8 }])) };
  writeFileSync(join(dir, "prices.json"), JSON.stringify(prices));
  return dir;
}

const userOf = (b: ChatBody) => b.messages.filter((m) => m.role === "user").at(-1)!.content;
const agentOfModel = (b: ChatBody) => b.model.replace(/^model-/, "");
/** The labels a review prompt shows, in order, and which answer each stands for. */
const shown = (b: ChatBody) => [...userOf(b).matchAll(/<<<BEGIN (Response [A-Z])>>>\n([\s\S]*?)\n<<<END/g)].map((m) => ({ label: m[1]!, agent: AGENTS.find((a) => ANSWER[a] === m[2])! }));
const words = (s: string) => s.split(/(?<= )/);
/** A reply ranking the agents in `order` under the labels this reviewer was shown. */
const rankingReply = (b: ChatBody, order: string[]) => {
  const labels = shown(b);
  return words(`Some thoughts first.\n\nFINAL RANKING:\n${order.map((a, i) => `${i + 1}. ${labels.find((l) => l.agent === a)!.label}`).join("\n")}\n`);
};
const JUDGE_JSON = {
  consensus: ["Gravity pulls things together."],
  contradictions: [{ topic: "mass vs weight", positions: [{ agent: "analyst", stance: "mass bends spacetime" }, { agent: "critic", stance: "weight differs from mass" }] }],
  unique_insights: [{ agent: "explainer", insight: "the trampoline picture" }],
  blind_spots: ["tides"],
};

/** Default plan: agents answer ANSWER, reviewers rank by a fixed preference, the judge answers fenced JSON. */
function plan(b: ChatBody, over: (b: ChatBody, who: string) => Plan | undefined = () => undefined): Plan {
  const who = callerOf(b);
  const custom = over(b, who);
  if (custom) return custom;
  if (AGENTS.includes(who)) return { tokens: words(ANSWER[who]!) };
  if (who === "reviewer") return { tokens: rankingReply(b, ["explainer", "critic", "analyst"].filter((a) => shown(b).some((l) => l.agent === a))) };
  if (who === "judge") return { tokens: words("Sure! Here it is:\n```json\n" + JSON.stringify(JUDGE_JSON) + "\n```\nHope this helps.") };
  return { tokens: words("The summary.") };
}

let upstream: MockUpstream;
let chorus: TestChorus;
let seq = 0;
const dir = promptsDir();

beforeAll(async () => {
  upstream = await startMockUpstream((b) => plan(b));
  chorus = await startChorus({
    USE_LLM_MOCK: "false",
    LLM_BASE_URL: upstream.url,
    LLM_KEY: "sk-test",
    LLM_MAX_RETRIES: "0",
    PROMPTS_DIR: dir,
    AGENT_TIMEOUT_MS: "20000",
    SUMMARIZER_TIMEOUT_MS: "20000",
    AGENT_FIRST_TOKEN_TIMEOUT_MS: "20000",
    AGENT_STALL_TIMEOUT_MS: "20000",
  });
});
afterAll(async () => {
  await chorus.close();
  await upstream.close();
});
afterEach(() => {
  upstream.setPlanner((b) => plan(b));
  upstream.calls.length = 0;
});

const run = (extra: object = {}) => readSse(`${chorus.url}/api/process`, { message: "Explain gravity like I am 5", message_id: `st-${++seq}`, ...extra });
const callsOf = (who: string) => upstream.calls.filter((c) => callerOf(c.body) === who);
const index = (r: SseRead, event: string) => names(r).indexOf(event);
const lastIndex = (r: SseRead, event: string) => names(r).lastIndexOf(event);

describe("council", () => {
  it("agents, then every reviewer on its own model over anonymised answers in its own order, then the ranking, then the summary", async () => {
    const r = await run({ strategy: "council" });
    expect(last(r)).toMatchObject({ event: "done", data: { status: "ok", strategy: "council" } });
    expect(lastIndex(r, "agent_done")).toBeLessThan(index(r, "review_start"));
    expect(lastIndex(r, "review_done")).toBeLessThan(index(r, "ranking"));
    expect(index(r, "ranking")).toBeLessThan(index(r, "summary_delta"));
    expect(ofType(r, "review_done").map((e) => e.data.reviewer).sort()).toEqual(AGENTS);

    const reviews = callsOf("reviewer");
    expect(reviews.map((c) => c.body.model).sort()).toEqual(AGENTS.map((a) => `model-${a}`));
    for (const c of reviews) {
      // The shipped review.md, and no agent name anywhere in what the reviewer reads.
      expect(c.body.messages[0]!.content).toContain("FINAL RANKING:");
      for (const a of AGENTS) expect(userOf(c.body).toLowerCase()).not.toContain(a);
      expect(shown(c.body).map((s) => s.label)).toEqual(["Response A", "Response B", "Response C"]);
      expect(c.body.max_tokens).toBe(600); // review.md's bound, sent upstream
    }
    const orders = reviews.map((c) => shown(c.body).map((s) => s.agent).join(","));
    expect(new Set(orders).size).toBe(3);

    // Every reviewer ranks explainer > critic > analyst; a reviewer's own answer does not count.
    expect(last(r).data.ranking).toEqual([
      { agent: "explainer", score: 1, reviews: 2 },
      { agent: "critic", score: 0.5, reviews: 2 },
      { agent: "analyst", score: 0, reviews: 2 },
    ]);
    expect(ofType(r, "ranking")[0]!.data).toEqual({ ranking: last(r).data.ranking, reviewers: 3 });
    // The summarizer reads the answers best first, with their scores.
    const summary = userOf(callsOf("moderator")[0]!.body);
    expect(summary.indexOf(ANSWER.explainer!)).toBeLessThan(summary.indexOf(ANSWER.critic!));
    expect(summary.indexOf(ANSWER.critic!)).toBeLessThan(summary.indexOf(ANSWER.analyst!));
    expect(summary).toContain("score 1.00 from 2 reviews");
  });

  it("ignores a reviewer's vote for itself", async () => {
    // Each reviewer puts itself first, then the others explainer > critic > analyst.
    upstream.setPlanner((b) =>
      plan(b, (body, who) => {
        if (who !== "reviewer") return undefined;
        const self = agentOfModel(body);
        return { tokens: rankingReply(body, [self, ...["explainer", "critic", "analyst"].filter((a) => a !== self)]) };
      }),
    );
    const r = await run({ strategy: "council" });
    expect(last(r).data.ranking).toEqual([
      { agent: "explainer", score: 0.5, reviews: 2 },
      { agent: "critic", score: 0.25, reviews: 2 },
      { agent: "analyst", score: 0, reviews: 2 },
    ]);
  });

  it("tolerates broken reviews: unparsable and failed ones are review_error, the rest still rank", async () => {
    upstream.setPlanner((b) =>
      plan(b, (body, who) => {
        if (who !== "reviewer") return undefined;
        if (agentOfModel(body) === "analyst") return { tokens: words("I think A is best, then B.") };
        if (agentOfModel(body) === "critic") return { status: 500 };
        return undefined;
      }),
    );
    const r = await run({ strategy: "council" });
    const errors = Object.fromEntries(ofType(r, "review_error").map((e) => [e.data.reviewer, e.data.error.code]));
    expect(errors).toEqual({ analyst: "bad_response", critic: "upstream_error" });
    expect(ofType(r, "ranking")[0]!.data.reviewers).toBe(1);
    // Only explainer's review (explainer > critic > analyst) counts, and not for explainer itself.
    expect(last(r).data.ranking).toEqual([
      { agent: "critic", score: 0.5, reviews: 1 },
      { agent: "analyst", score: 0, reviews: 1 },
      { agent: "explainer", score: null, reviews: 0 },
    ]);
    expect(last(r).data.status).toBe("ok");
  });

  it("with no usable review: no ranking event, a plain summary, and done says the review was skipped", async () => {
    upstream.setPlanner((b) => plan(b, (_b, who) => (who === "reviewer" ? { tokens: words("No ranking from me.") } : undefined)));
    const r = await run({ strategy: "council" });
    expect(names(r)).not.toContain("ranking");
    expect(last(r)).toMatchObject({ event: "done", data: { status: "ok", degraded: { failed_agents: [], skipped: ["review"] } } });
    expect(last(r).data).not.toHaveProperty("ranking");
    expect(userOf(callsOf("moderator")[0]!.body)).toContain("## Stages that were skipped");
  });

  it("skips the review with fewer than two answers", async () => {
    upstream.setPlanner((b) => plan(b, (_b, who) => (who === "critic" || who === "explainer" ? { status: 500 } : undefined)));
    const r = await run({ strategy: "council" });
    expect(callsOf("reviewer")).toHaveLength(0);
    expect(names(r)).not.toContain("review_start");
    expect(last(r)).toMatchObject({ event: "done", data: { status: "partial", degraded: { failed_agents: ["critic", "explainer"], skipped: ["review"] } } });
    const summary = userOf(callsOf("moderator")[0]!.body);
    expect(summary).toContain("- critic: upstream_error");
    expect(summary).toContain("This result is degraded");
  });
});

describe("fusion", () => {
  it("agents, one judge over the answers labelled by agent, the analysis, then a summary fed by it", async () => {
    const r = await run({ strategy: "fusion" });
    expect(last(r)).toMatchObject({ event: "done", data: { status: "ok", strategy: "fusion", analysis: JUDGE_JSON } });
    expect(lastIndex(r, "agent_done")).toBeLessThan(index(r, "analysis"));
    expect(index(r, "analysis")).toBeLessThan(index(r, "summary_delta"));
    expect(ofType(r, "analysis")[0]!.data).toEqual(JUDGE_JSON); // read from a chatty, fenced reply
    const judge = callsOf("judge");
    expect(judge).toHaveLength(1);
    for (const a of AGENTS) expect(userOf(judge[0]!.body)).toContain(`<<<BEGIN ${a}>>>\n${ANSWER[a]}`);
    expect(userOf(callsOf("moderator")[0]!.body)).toContain('"weight differs from mass"');
  });

  it("tolerates a broken judge: analysis_error, a plain summary, degraded", async () => {
    upstream.setPlanner((b) => plan(b, (_b, who) => (who === "judge" ? { tokens: words('{"consensus": "not a list"}') } : undefined)));
    const bad = await run({ strategy: "fusion" });
    expect(ofType(bad, "analysis_error")[0]!.data.error.code).toBe("bad_response");
    expect(last(bad)).toMatchObject({ event: "done", data: { status: "ok", degraded: { skipped: ["judge"] } } });

    upstream.setPlanner((b) => plan(b, (_b, who) => (who === "judge" ? { status: 500 } : undefined)));
    const failed = await run({ strategy: "fusion" });
    expect(ofType(failed, "analysis_error")[0]!.data.error.code).toBe("upstream_error");
    expect(last(failed).event).toBe("done");
    expect(last(failed).data).not.toHaveProperty("analysis");
  });

  it("makes no judge call with fewer than two answers", async () => {
    const r = await run({ strategy: "fusion", agents: ["analyst"] });
    expect(callsOf("judge")).toHaveLength(0);
    expect(last(r)).toMatchObject({ event: "done", data: { degraded: { skipped: ["judge"] } } });
  });
});

describe("rounds", () => {
  it("round 2 agents read round 1's answers labelled by agent, and events carry the round", async () => {
    const r = await run({ rounds: 2 });
    expect(last(r)).toMatchObject({ event: "done", data: { status: "ok" } });
    expect(ofType(r, "agent_done").map((e) => e.data.round)).toEqual([1, 1, 1, 2, 2, 2]);
    expect(lastIndex(r, "agent_done")).toBeLessThan(index(r, "summary_delta"));
    const second = upstream.calls.filter((c) => AGENTS.includes(callerOf(c.body))).slice(3);
    expect(second).toHaveLength(3);
    for (const c of second) for (const a of AGENTS) expect(userOf(c.body)).toContain(`### ${a}\n\n<<<BEGIN ${a}>>>\n${ANSWER[a]}\n<<<END ${a}>>>`);
  });

  it("ends all_agents_failed when a round has no answer", async () => {
    let n = 0;
    upstream.setPlanner((b) => plan(b, (_b, who) => (AGENTS.includes(who) && ++n > 3 ? { status: 500 } : undefined)));
    const r = await run({ rounds: 2, strategy: "council" });
    expect(last(r)).toMatchObject({ event: "error", data: { code: "all_agents_failed", message: expect.stringContaining("round 2") } });
    expect(callsOf("reviewer")).toHaveLength(0);
    expect(callsOf("moderator")).toHaveLength(0);
  });
});

describe("presets", () => {
  it("lists the presets, picks one by request field, and lets request fields override it", async () => {
    const res = await fetch(`${chorus.url}/api/presets`);
    const body = await res.json();
    expect(body.presets).toEqual([
      { name: "default", description: expect.any(String), strategy: "summarize", rounds: 1, agents: AGENTS },
      { name: "duo", description: "two agents, council", strategy: "council", rounds: 1, agents: ["analyst", "critic"] },
    ]);
    const duo = await run({ preset: "duo" });
    expect(duo.events[0]!.data.agents).toEqual(["analyst", "critic"]);
    expect(last(duo).data.strategy).toBe("council");
    expect(callsOf("reviewer")).toHaveLength(2);
    upstream.calls.length = 0;
    const over = await run({ preset: "duo", strategy: "summarize", agents: ["explainer", "critic"] });
    expect(over.events[0]!.data.agents).toEqual(["explainer", "critic"]);
    expect(callsOf("reviewer")).toHaveLength(0);
    const bad = await chorus.post({ message: "hi", message_id: "st-bad", preset: "nope" });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ code: "invalid_request", details: [expect.objectContaining({ field: "preset" })] });
  });

  it("runs a preset named as the /v1 model chorus/<preset>", async () => {
    const res = await fetch(`${chorus.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "chorus/duo", messages: [{ role: "user", content: "Why is the sky blue?" }] }),
    });
    expect(res.status).toBe(200);
    expect((await res.json()).choices[0].message.content).toBe("The summary.");
    expect(callsOf("reviewer").map((c) => c.body.model).sort()).toEqual(["model-analyst", "model-critic"]);
    const models = await (await fetch(`${chorus.url}/v1/models`)).json();
    expect(models.data.map((m: { id: string }) => m.id)).toEqual(["chorus", "chorus/default", "chorus/duo"]);
  });
});

describe("cost", () => {
  it("dry_run answers the plan and estimate, calls nothing, counts against the rate limit, and bounds the run's measured cost", async () => {
    for (const extra of [{ strategy: "council" }, { strategy: "fusion", rounds: 2 }, {}]) {
      const body = { message: "Explain gravity like I am 5", message_id: `st-dry-${++seq}`, ...extra };
      const res = await chorus.post({ ...body, dry_run: true });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("application/json");
      expect(res.headers.get("ratelimit-remaining")).not.toBeNull();
      const dry = await res.json();
      expect(upstream.calls).toHaveLength(0);
      const calls = { council: 3 + 3 + 1, fusion: 6 + 1 + 1 }[(extra as { strategy?: string }).strategy ?? ""] ?? 4;
      expect(dry.plan).toEqual({ preset: "default", strategy: (extra as { strategy?: string }).strategy ?? "summarize", rounds: (extra as { rounds?: number }).rounds ?? 1, agents: AGENTS, calls });
      expect(dry.estimate.cost_usd).toBeGreaterThan(0);
      // Same run for real, with an upstream that counts generously: many tokens per answer.
      const r = await readSse(`${chorus.url}/api/process`, body);
      expect(last(r).event).toBe("done");
      expect(upstream.calls).toHaveLength(calls);
      expect(last(r).data.cost_usd).toBeGreaterThan(0);
      expect(last(r).data.cost_usd).toBeLessThanOrEqual(dry.estimate.cost_usd);
      upstream.calls.length = 0;
    }
  });

  it("refuses a plan above max_cost_usd with 402 before any call, and one with an unpriced model with 400", async () => {
    const question = "Explain gravity like I am 5";
    const dry = await (await chorus.post({ message: question, message_id: "st-cap-0", strategy: "council", dry_run: true })).json();
    const res = await chorus.post({ message: question, message_id: "st-cap-1", strategy: "council", max_cost_usd: dry.estimate.cost_usd / 2 });
    expect(res.status).toBe(402);
    expect((await res.json()).error).toEqual({
      code: "budget_exceeded",
      message: expect.stringContaining("max_cost_usd"),
      details: { estimate_usd: dry.estimate.cost_usd, max_cost_usd: dry.estimate.cost_usd / 2 },
    });
    expect(upstream.calls).toHaveLength(0);
    const ok = await run({ strategy: "council", max_cost_usd: dry.estimate.cost_usd * 1.001 });
    expect(last(ok).event).toBe("done");

    const unpriced = await startChorus({ USE_LLM_MOCK: "true", PRICES_FILE: join(dir, "prices.json"), LLM_MODEL: "no-such-model" });
    try {
      const r = await unpriced.post({ message: "hi", message_id: "st-unpriced", max_cost_usd: 1 });
      expect(r.status).toBe(400);
      expect((await r.json()).error).toMatchObject({ code: "invalid_request", message: expect.stringContaining("no-such-model") });
      const dryUnpriced = await (await unpriced.post({ message: "hi", message_id: "st-unpriced", dry_run: true })).json();
      expect(dryUnpriced.estimate.cost_usd).toBeNull();
    } finally {
      await unpriced.close();
    }
  });

  it("stops starting calls once the measured spend passes max_cost_usd, and hands over the answers paid for", async () => {
    // The agents' prompts promise 1 token each; this upstream ignores max_tokens and sends 400.
    const cheap = await startChorus({ USE_LLM_MOCK: "false", LLM_BASE_URL: upstream.url, LLM_KEY: "sk-test", LLM_MAX_RETRIES: "0", PROMPTS_DIR: promptsDir("max_tokens: 1\n") });
    try {
      upstream.setPlanner((b) => plan(b, (_b, who) => (AGENTS.includes(who) ? { tokens: Array.from({ length: 400 }, (_, i) => `w${i} `) } : undefined)));
      const body = { message: "Explain gravity", strategy: "summarize" };
      const dry = await (await cheap.post({ ...body, message_id: "st-stop-0", dry_run: true })).json();
      const r = await readSse(`${cheap.url}/api/process`, { ...body, message_id: "st-stop-1", max_cost_usd: dry.estimate.cost_usd * 1.01 });
      expect(last(r)).toMatchObject({ event: "error", data: { code: "budget_exceeded" } });
      expect(Object.keys(last(r).data.outputs).sort()).toEqual(AGENTS);
      expect(callsOf("moderator")).toHaveLength(0);
    } finally {
      await cheap.close();
    }
  });
});

describe("cancellation", () => {
  const stalled = (stage: string) => (b: ChatBody) => plan(b, (_b, who) => (who === stage ? { ttftMs: 30_000 } : undefined));
  for (const [stage, extra] of [
    ["reviewer", { strategy: "council" }],
    ["judge", { strategy: "fusion" }],
    ["round 2", { rounds: 2 }],
  ] as const) {
    it(`DELETE during the ${stage} stage aborts its calls within a second`, async () => {
      let n = 0;
      upstream.setPlanner(stage === "round 2" ? (b) => plan(b, (_b, who) => (AGENTS.includes(who) && ++n > 3 ? { ttftMs: 30_000 } : undefined)) : stalled(stage));
      const id = `st-cancel-${++seq}`;
      const reading = readSse(`${chorus.url}/api/process`, { message: "Explain gravity", message_id: id, ...extra });
      const inStage = () => upstream.calls.filter((c) => (stage === "round 2" ? AGENTS.includes(callerOf(c.body)) : callerOf(c.body) === stage));
      const expected = stage === "round 2" ? 6 : stage === "judge" ? 1 : 3;
      await expect.poll(() => inStage().length, { timeout: 5000, interval: 20 }).toBe(expected);
      const open = inStage().filter((c) => c.closedAt === undefined);
      expect(open.length).toBeGreaterThan(0);
      const t0 = performance.now();
      expect((await fetch(`${chorus.url}/api/process/${id}`, { method: "DELETE" })).status).toBe(202);
      await expect.poll(() => open.every((c) => c.closedAt !== undefined), { timeout: 3000, interval: 10 }).toBe(true);
      for (const c of open) expect(c.closedAt! - t0).toBeLessThan(1000);
      const r = await reading;
      expect(last(r)).toMatchObject({ event: "error", data: { code: "cancelled" } });
      expect(callsOf("moderator")).toHaveLength(0);
    });
  }
});
