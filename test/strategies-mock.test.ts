// The shipped presets on the built-in mock LLM (the demo a user first meets), its fault injection
// by role, and the preset files and DEFAULT_PRESET validated at start.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.js";
import { parseConfig } from "../src/config/env.js";
import { loadPrompts } from "../src/config/prompts.js";
import { createLlmClient } from "../src/llm/create-llm-client.js";
import { createLogger } from "../src/log/logger.js";
import { last, names, ofType, readSse } from "./support/sse-client.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";
import { tempDir } from "./support/temp-dir.js";

const QUESTION = "Explain gravity like I am 5";
let chorus: TestChorus;
let seq = 0;
beforeAll(async () => {
  chorus = await startChorus();
});
afterAll(() => chorus.close());
const run = (c: TestChorus, extra: object = {}) => readSse(`${c.url}/api/process`, { message: QUESTION, message_id: `mock-${++seq}`, ...extra });

describe("the shipped presets on the mock LLM", () => {
  it("lists default, council, fusion, deep and fast, each with a description", async () => {
    const { presets } = await (await fetch(`${chorus.url}/api/presets`)).json();
    expect(presets.map((p: { name: string }) => p.name)).toEqual(["council", "deep", "default", "fast", "fusion"]);
    for (const p of presets) expect(p.description.length).toBeGreaterThan(40);
    expect(presets.find((p: { name: string }) => p.name === "deep")).toMatchObject({ strategy: "fusion", rounds: 2 });
    expect(presets.find((p: { name: string }) => p.name === "fast").agents.length).toBeLessThan(3);
  });

  it.each(["default", "council", "fusion", "deep", "fast"])("runs %s to done, measured cost within its dry-run estimate", async (preset) => {
    const dry = await (await chorus.post({ message: QUESTION, message_id: `mock-dry-${preset}`, preset, dry_run: true })).json();
    const r = await run(chorus, { preset });
    const done = last(r);
    expect(done).toMatchObject({ event: "done", data: { status: "ok", strategy: dry.plan.strategy } });
    const calls = ofType(r, "agent_start").length + ofType(r, "review_start").length + (names(r).includes("analysis") ? 1 : 0) + 1;
    expect(calls).toBe(dry.plan.calls);
    expect(done.data.cost_usd).toBeGreaterThan(0);
    expect(done.data.usage.prompt_tokens).toBeLessThanOrEqual(dry.estimate.prompt_tokens);
    expect(done.data.cost_usd).toBeLessThanOrEqual(dry.estimate.cost_usd);
  });

  it("plays the reviewers and the judge: a valid ranking, and an analysis naming each agent and a term of its answer", async () => {
    const council = await run(chorus, { preset: "council" });
    expect(ofType(council, "review_done")).toHaveLength(3);
    expect(ofType(council, "ranking")[0]!.data.reviewers).toBe(3);
    const fusion = await run(chorus, { preset: "fusion" });
    const analysis = ofType(fusion, "analysis")[0]!.data;
    const outputs = Object.fromEntries(ofType(fusion, "agent_done").map((e) => [e.data.agent, e.data.output as string]));
    for (const [agent, output] of Object.entries(outputs) as [string, string][]) {
      const insight = analysis.unique_insights.find((u: { agent: string }) => u.agent === agent);
      const term = /"([a-z-]+)"/.exec(insight.insight)![1]!;
      expect(output.toLowerCase()).toContain(term);
    }
    expect(analysis.contradictions[0].positions.map((p: { agent: string }) => p.agent).sort()).toEqual(Object.keys(outputs).sort());
    // Deterministic for a given input.
    const again = await run(chorus, { preset: "fusion" });
    expect(ofType(again, "analysis")[0]!.data).toEqual(analysis);
  });

  it("fails the roles MOCK_FAIL_AGENTS names: a reviewer, every reviewer, the judge", async () => {
    const c = await startChorus({ MOCK_FAIL_AGENTS: "review:critic,judge" });
    try {
      const council = await run(c, { strategy: "council" });
      expect(ofType(council, "review_error").map((e) => e.data.reviewer)).toEqual(["critic"]);
      expect(ofType(council, "ranking")[0]!.data.reviewers).toBe(2);
      const fusion = await run(c, { strategy: "fusion" });
      expect(ofType(fusion, "analysis_error")[0]!.data.error.code).toBe("upstream_error");
      expect(last(fusion).data.degraded).toEqual({ failed_agents: [], skipped: ["judge"] });
    } finally {
      await c.close();
    }
    const none = await startChorus({ MOCK_FAIL_AGENTS: "review" });
    try {
      const r = await run(none, { strategy: "council" });
      expect(ofType(r, "review_error")).toHaveLength(3);
      expect(names(r)).not.toContain("ranking");
      expect(last(r)).toMatchObject({ event: "done", data: { degraded: { skipped: ["review"] } } });
    } finally {
      await none.close();
    }
  });

  it("uses DEFAULT_PRESET when a request names none", async () => {
    const c = await startChorus({ DEFAULT_PRESET: "council" });
    try {
      const r = await run(c);
      expect(last(r).data.strategy).toBe("council");
      expect(names(r)).toContain("ranking");
    } finally {
      await c.close();
    }
  });
});

describe("dry_run", () => {
  it("costs a rate-limit point, creates no run, and counts a conversation's history in the estimate", async () => {
    const c = await startChorus({ RATE_LIMIT_POINTS: "5" });
    try {
      const dry = (extra: object) => c.post({ message: QUESTION, message_id: "dry-same", dry_run: true, ...extra });
      const first = await dry({});
      const second = await dry({});
      expect([first.headers.get("ratelimit-remaining"), second.headers.get("ratelimit-remaining")]).toEqual(["4", "3"]);
      expect((await fetch(`${c.url}/api/process/dry-same/events`)).status).toBe(404); // no run was made
      const before = (await first.json()).estimate.prompt_tokens;
      expect(last(await run(c, { conversation_id: "dry-conv" })).event).toBe("done");
      const after = (await (await dry({ conversation_id: "dry-conv" })).json()).estimate.prompt_tokens;
      expect(after).toBeGreaterThan(before);
    } finally {
      await c.close();
    }
  });
});

describe("preset files", () => {
  const folder = (presets: Record<string, string>) => {
    const dir = tempDir("presets");
    mkdirSync(join(dir, "agents"));
    writeFileSync(join(dir, "agents", "solo.md"), "Be brief.");
    writeFileSync(join(dir, "summarizer.md"), "Sum up.");
    mkdirSync(join(dir, "presets"));
    for (const [name, text] of Object.entries(presets)) writeFileSync(join(dir, "presets", `${name}.md`), text);
    return dir;
  };

  it("reads a preset folder; default exists without a file; the shipped review and judge prompts fill in", () => {
    const p = loadPrompts(folder({ quick: "---\ndescription: quick\nagents: solo\nrounds: 2\nmax_cost_usd: 0.01\n---\n" }));
    expect(p.presets).toEqual([
      { name: "default", description: expect.any(String) },
      { name: "quick", description: "quick", agents: ["solo"], rounds: 2, max_cost_usd: 0.01 },
    ]);
    expect(p.review.system).toContain("FINAL RANKING:");
    expect(p.judge.system).toContain("contradictions");
  });

  it.each([
    [{ a: "---\nstrategy: vote\n---\n" }, /a\.md: bad header \(strategy/],
    [{ a: "---\nrounds: 9\n---\n" }, /a\.md: bad header \(rounds/],
    [{ a: "---\nagents: solo, ghost\n---\n" }, /a\.md: agents names unknown agent\(s\) ghost/],
    [{ a: "---\ncolour: red\n---\n" }, /a\.md: bad header/],
    [{ "Bad Name": "x" }, /preset names are lower-case/],
  ])("refuses a broken preset with the file at fault (%#)", (presets, error) => {
    expect(() => loadPrompts(folder(presets))).toThrow(error);
  });

  it("refuses a DEFAULT_PRESET with no preset at start", () => {
    const config = parseConfig({ DEFAULT_PRESET: "nope", LOG_LEVEL: "silent" });
    const prompts = loadPrompts("prompts");
    const logger = createLogger({ level: "silent", production: true });
    expect(() => createApp({ config, prompts, llm: createLlmClient(config, logger), logger })).toThrow(/DEFAULT_PRESET: no preset named "nope"/);
  });
});

describe("the API document", () => {
  it("documents the strategy fields, the dry-run answer, 402, GET /api/presets and the stage events", async () => {
    const doc = await (await fetch(`${chorus.url}/openapi.json`)).json();
    const req = doc.components.schemas.ProcessRequest.properties;
    expect(req.strategy.enum).toEqual(["summarize", "council", "fusion"]);
    expect(req.preset.enum).toEqual(["council", "deep", "default", "fast", "fusion"]);
    expect(req.rounds).toMatchObject({ minimum: 1, maximum: 4 });
    for (const f of ["max_cost_usd", "dry_run"]) expect(req[f]).toBeDefined();
    const post = doc.paths["/api/process"].post.responses;
    expect(post["402"].description).toContain("budget_exceeded");
    expect(post["200"].content["application/json"].schema.$ref).toBe("#/components/schemas/DryRun");
    expect(Object.keys(post["200"].content["text/event-stream"]["x-sse-events"])).toEqual(expect.arrayContaining(["review_done", "ranking", "analysis", "analysis_error"]));
    expect(doc.paths["/api/presets"].get.responses["200"]).toBeDefined();
    const page = await (await fetch(`${chorus.url}/docs`)).text();
    expect(page).toContain("/api/presets");
    expect(page).toContain("budget_exceeded");
  });
});
