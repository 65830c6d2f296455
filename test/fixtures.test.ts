// Recorded fixtures: a real run against the mock upstream is recorded (LLM_RECORD_DIR), the
// upstream is stopped, and replaying the files (LLM_REPLAY_DIR) gives the same events, with
// the recorded timing, clear errors for missing or corrupt files, and no network at all.
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/env.js";
import { FIXTURE_VERSION, requestHash, writeFixture } from "../src/llm/fixture-file.js";
import type { ChatRequest, LlmClient } from "../src/llm/llm-client.js";
import { recordingClient } from "../src/llm/recording-client.js";
import { replayClient } from "../src/llm/replay-client.js";
import { callerOf, startMockUpstream, type MockUpstream } from "./support/mock-upstream.js";
import { last, ofType, readSse, type SseRead } from "./support/sse-client.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";
import { tempDir } from "./support/temp-dir.js";

const KEY = "sk-test-FIXTURE-KEY-7f3e9a";
const OK_MESSAGE = "Explain gravity like I am 5";
const PARTIAL_MESSAGE = "Explain tides like I am 5";
const SUMMARY_TOKENS = ["Gravity ", "pulls ", "things ", "together, ", "like ", "a ", "magnet."];

let root: string;
let recordDir: string;
/** Stands where the upstream was: a replay that reached the network would show up in its calls. */
let sentinel: MockUpstream;
const recorded: { ok?: SseRead; partial?: SseRead } = {};
const servers: TestChorus[] = [];
let seq = 0;

const ask = (chorus: TestChorus, message: string) =>
  readSse(`${chorus.url}/api/process`, { message, message_id: `fx-${++seq}`, stream_agents: true });

async function replayServer(dir: string, env: Record<string, string> = {}) {
  const s = await startChorus({ USE_LLM_MOCK: "false", LLM_BASE_URL: sentinel.url, LLM_REPLAY_DIR: dir, ...env });
  servers.push(s);
  return s;
}

/** What a user compares between two runs: everything but latencies and the message id. */
function view(r: SseRead) {
  const agents: Record<string, unknown> = {};
  for (const e of [...ofType(r, "agent_done"), ...ofType(r, "agent_error")]) {
    const { latency_ms, ...rest } = e.data;
    agents[e.data.agent] = rest;
  }
  const agentDeltas: Record<string, string[]> = {};
  for (const e of ofType(r, "agent_delta")) (agentDeltas[e.data.agent] ??= []).push(e.data.delta);
  const { latency_ms, message_id, ...end } = last(r).data;
  return {
    start: r.events[0]!.data.agents,
    agents,
    agentDeltas,
    summaryDeltas: ofType(r, "summary_delta").map((e) => e.data.delta),
    end: { event: last(r).event, ...end },
  };
}

const summarySpan = (r: SseRead) => {
  const d = ofType(r, "summary_delta");
  return d[d.length - 1]!.at - d[0]!.at;
};

const fixtureFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".json"));

/** The file recorded for `caller` in the run that asked `message`. */
function fixtureFor(dir: string, caller: string, message: string): { file: string; hash: string; json: any } {
  for (const file of fixtureFiles(dir).filter((f) => f.startsWith(`${caller}-`))) {
    const json = JSON.parse(readFileSync(join(dir, file), "utf8"));
    if (json.request.messages.some((m: any) => m.role === "user" && m.content.includes(message))) {
      return { file, hash: json.hash, json };
    }
  }
  throw new Error(`no fixture for ${caller} / ${message}`);
}

function copyOfRecording(name: string) {
  const dir = join(root, name);
  cpSync(recordDir, dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  root = tempDir("fixtures");
  recordDir = join(root, "recorded"); // does not exist yet: recording creates it
  sentinel = await startMockUpstream();

  const upstream = await startMockUpstream((b) => {
    const caller = callerOf(b);
    if (caller === "moderator") return { tokens: SUMMARY_TOKENS, tokenDelayMs: 80 };
    const user = b.messages.filter((m) => m.role === "user").pop()!.content;
    if (caller === "critic" && user === PARTIAL_MESSAGE) return { status: 500 };
    return { ttftMs: 30 };
  });
  const recorder = await startChorus({
    USE_LLM_MOCK: "false",
    LLM_BASE_URL: upstream.url,
    LLM_KEY: KEY,
    LLM_MAX_RETRIES: "0",
    LLM_RECORD_DIR: recordDir,
  });
  try {
    recorded.ok = await ask(recorder, OK_MESSAGE);
    recorded.partial = await ask(recorder, PARTIAL_MESSAGE);
  } finally {
    await recorder.close();
    await upstream.close();
  }
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await sentinel?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("recording (LLM_RECORD_DIR)", () => {
  it("the recorded runs themselves went as planned", () => {
    expect(last(recorded.ok!)).toMatchObject({ event: "done", data: { status: "ok", summary: SUMMARY_TOKENS.join("") } });
    expect(last(recorded.partial!)).toMatchObject({ event: "done", data: { status: "partial", agents: { ok: 2, failed: 1 } } });
  });

  it("writes one readable file per upstream call: request, timed deltas, usage", () => {
    const files = fixtureFiles(recordDir);
    expect(files).toHaveLength(8); // 2 runs × (3 agents + summarizer)
    for (const f of files) expect(f).toMatch(/^(analyst|critic|explainer|summarizer)-[0-9a-f]{16}\.json$/);

    const analyst = fixtureFor(recordDir, "analyst", OK_MESSAGE);
    const text = readFileSync(join(recordDir, analyst.file), "utf8");
    expect(text).toContain('\n  "version": 1,'); // pretty-printed…
    expect(text).toMatch(/\n    \{"at_ms":\d+,"delta":"[^\n]*"\},\n/); // …one line per event
    expect(analyst.json).toMatchObject({
      version: FIXTURE_VERSION,
      caller: "analyst",
      request: { model: "gpt-4o-mini", temperature: 0.3, max_tokens: 600 },
    });
    expect(analyst.json.request.messages.map((m: any) => m.role)).toEqual(["system", "user"]);
    const output = ofType(recorded.ok!, "agent_done").find((e) => e.data.agent === "analyst")!.data.output;
    const deltas = analyst.json.events.filter((e: any) => "delta" in e);
    expect(deltas.map((e: any) => e.delta).join("")).toBe(output);
    expect(analyst.json.events.at(-1)).toMatchObject({ usage: { prompt_tokens: 10 } });

    const summary = fixtureFor(recordDir, "summarizer", OK_MESSAGE).json.events.filter((e: any) => "delta" in e);
    // The recorded timing is real: the upstream spaced its tokens 80 ms apart.
    expect(summary.at(-1).at_ms - summary[0].at_ms).toBeGreaterThanOrEqual(300);
  });

  it("records an upstream failure as its error code, without the raw body", () => {
    const critic = fixtureFor(recordDir, "critic", PARTIAL_MESSAGE).json;
    expect(critic.events).toEqual([{ at_ms: expect.any(Number), error: { code: "upstream_error", message: "upstream LLM answered 500" } }]);
  });

  it("never writes the key, the upstream address or the upstream's error body", () => {
    for (const f of fixtureFiles(recordDir)) {
      const text = readFileSync(join(recordDir, f), "utf8");
      expect(text).not.toContain(KEY);
      expect(text).not.toContain("FIXTURE-KEY");
      expect(text).not.toContain("SECRET-IN-BODY");
      expect(text).not.toContain("127.0.0.1");
      expect(text.toLowerCase()).not.toContain("authorization");
    }
  });

  it("never writes a per-agent endpoint or its key, which the client does see", async () => {
    const dir = join(root, "endpoint");
    const inner: LlmClient = {
      async stream(_req, onChunk) {
        onChunk({ type: "delta", text: "hi" });
      },
    };
    const req = {
      caller: "analyst",
      model: "m",
      messages: [{ role: "user", content: "q" }],
      endpoint: { baseURL: "https://user:pa55word@llm.example/v1", apiKey: "sk-ENDPOINT-SECRET" },
      signal: new AbortController().signal,
    } as ChatRequest;
    await recordingClient(inner, dir).stream(req, () => {});
    const [file] = fixtureFiles(dir);
    const text = readFileSync(join(dir, file!), "utf8");
    expect(JSON.parse(text).events).toEqual([{ at_ms: expect.any(Number), delta: "hi" }]);
    expect(text).not.toMatch(/ENDPOINT-SECRET|pa55word|llm\.example/);
  });
});

describe("replaying (LLM_REPLAY_DIR)", () => {
  it("gives the same events with the upstream gone, at the recorded pace, with no network call", async () => {
    const replay = await replayServer(recordDir);
    const r = await ask(replay, OK_MESSAGE);
    expect(view(r)).toEqual(view(recorded.ok!));
    expect(summarySpan(r)).toBeGreaterThanOrEqual(summarySpan(recorded.ok!) * 0.5);
    expect(sentinel.calls).toHaveLength(0);
  });

  it("replays a recorded upstream error as the same agent error", async () => {
    const replay = await replayServer(recordDir, { LLM_REPLAY_SPEED: "max" });
    const r = await ask(replay, PARTIAL_MESSAGE);
    expect(view(r)).toEqual(view(recorded.partial!));
    expect(ofType(r, "agent_error")[0]!.data).toMatchObject({
      agent: "critic",
      status: "error",
      error: { code: "upstream_error", message: "upstream LLM answered 500" },
    });
    expect(sentinel.calls).toHaveLength(0);
  });

  it("is fast with LLM_REPLAY_SPEED=max, and still the same events", async () => {
    const replay = await replayServer(recordDir, { LLM_REPLAY_SPEED: "max" });
    const r = await ask(replay, OK_MESSAGE);
    expect(view(r)).toEqual(view(recorded.ok!));
    expect(summarySpan(r)).toBeLessThan(summarySpan(recorded.ok!) / 3);
  });

  it("fails only the call whose fixture is missing, naming the agent and the hash, never asking the network", async () => {
    const dir = copyOfRecording("missing");
    const critic = fixtureFor(dir, "critic", OK_MESSAGE);
    unlinkSync(join(dir, critic.file));
    const replay = await replayServer(dir, { LLM_REPLAY_SPEED: "max" });
    const r = await ask(replay, OK_MESSAGE);

    const err = ofType(r, "agent_error");
    expect(err).toHaveLength(1);
    expect(err[0]!.data).toMatchObject({ agent: "critic", status: "error", error: { code: "fixture_missing" } });
    expect(err[0]!.data.error.message).toContain("critic");
    expect(err[0]!.data.error.message).toContain(critic.hash);
    const okAgents = ofType(r, "agent_done").map((e) => e.data);
    expect(okAgents.map((a) => a.agent).sort()).toEqual(["analyst", "explainer"]);
    const recordedAgents = view(recorded.ok!).agents as Record<string, { output: string }>;
    for (const a of okAgents) expect(a.output).toBe(recordedAgents[a.agent]!.output);
    // The summarizer now sees a different request (critic failed), which was never recorded either.
    expect(last(r)).toMatchObject({ event: "error", data: { code: "summarizer_failed" } });
    expect(last(r).data.message).toMatch(/no recorded fixture for summarizer: request hash [0-9a-f]{16}/);
    expect(sentinel.calls).toHaveLength(0);
  });

  it("reports a corrupt fixture file as a clear agent error", async () => {
    const dir = copyOfRecording("corrupt");
    const analyst = fixtureFor(dir, "analyst", OK_MESSAGE);
    const explainer = fixtureFor(dir, "explainer", OK_MESSAGE);
    writeFileSync(join(dir, analyst.file), '{ "version": 1, "events": [');
    writeFileSync(join(dir, explainer.file), JSON.stringify({ ...explainer.json, version: 99 }));
    const replay = await replayServer(dir, { LLM_REPLAY_SPEED: "max" });
    const r = await ask(replay, OK_MESSAGE);

    const errors = Object.fromEntries(ofType(r, "agent_error").map((e) => [e.data.agent, e.data.error]));
    expect(errors.analyst).toEqual({
      code: "fixture_missing",
      message: `fixture ${analyst.file} for analyst is corrupt (not valid JSON); delete it and record again`,
    });
    expect(errors.explainer.code).toBe("fixture_missing");
    expect(errors.explainer.message).toMatch(new RegExp(`fixture ${explainer.file} for explainer is corrupt \\(version: `));
    expect(ofType(r, "agent_done").map((e) => e.data.agent)).toEqual(["critic"]);
  });

  it("stops promptly when the call is aborted mid-replay", async () => {
    const dir = join(root, "slow");
    const req: ChatRequest = { caller: "analyst", model: "m", messages: [{ role: "user", content: "slow" }], signal: new AbortController().signal };
    mkdirSync(dir);
    await writeFixture(dir, {
      version: 1,
      hash: requestHash(req),
      caller: "analyst",
      request: {},
      events: [
        { at_ms: 0, delta: "first " },
        { at_ms: 10_000, delta: "never" },
      ],
    });
    const ac = new AbortController();
    const reason = new Error("run cancelled");
    const got: string[] = [];
    const t0 = performance.now();
    const consume = () =>
      replayClient(dir, 1).stream({ ...req, signal: ac.signal }, (c) => {
        if (c.type === "delta") got.push(c.text);
        if (got.length === 1) setTimeout(() => ac.abort(reason), 50);
      });
    await expect(consume()).rejects.toBe(reason);
    expect(got).toEqual(["first "]);
    expect(performance.now() - t0).toBeLessThan(2_000);
  });
});

describe("with the built-in mock LLM", () => {
  it("records mock calls too, and replay answers instead of the mock", async () => {
    const dir = join(root, "mock");
    const recorder = await startChorus({ LLM_RECORD_DIR: dir });
    servers.push(recorder);
    const original = await ask(recorder, OK_MESSAGE);
    expect(last(original)).toMatchObject({ event: "done", data: { status: "ok" } });
    expect(fixtureFiles(dir)).toHaveLength(4);

    // The mock would now fail the critic: the replayed run proves the mock is not asked.
    const replay = await startChorus({ USE_LLM_MOCK: "true", MOCK_FAIL_AGENTS: "critic", LLM_REPLAY_DIR: dir, LLM_REPLAY_SPEED: "max" });
    servers.push(replay);
    const r = await ask(replay, OK_MESSAGE);
    expect(view(r)).toEqual(view(original));
  });
});

describe("configuration", () => {
  it("refuses recording and replaying at once", () => {
    expect(() => parseConfig({ LLM_RECORD_DIR: root, LLM_REPLAY_DIR: root })).toThrow(
      /LLM_REPLAY_DIR: cannot be set together with LLM_RECORD_DIR/,
    );
  });

  it("refuses a replay folder that does not exist", () => {
    expect(() => parseConfig({ LLM_REPLAY_DIR: join(root, "nope") })).toThrow(/LLM_REPLAY_DIR: must be an existing folder/);
  });

  it("reads LLM_REPLAY_SPEED as a factor, with max (or 0) for no delays", () => {
    expect(parseConfig({}).LLM_REPLAY_SPEED).toBe(1);
    expect(parseConfig({ LLM_REPLAY_SPEED: "" }).LLM_REPLAY_SPEED).toBe(1);
    expect(parseConfig({ LLM_REPLAY_SPEED: "2.5" }).LLM_REPLAY_SPEED).toBe(2.5);
    expect(parseConfig({ LLM_REPLAY_SPEED: "max" }).LLM_REPLAY_SPEED).toBe(Infinity);
    expect(parseConfig({ LLM_REPLAY_SPEED: "0" }).LLM_REPLAY_SPEED).toBe(Infinity);
    expect(() => parseConfig({ LLM_REPLAY_SPEED: "fast" })).toThrow(/LLM_REPLAY_SPEED: must be a factor/);
    expect(() => parseConfig({ LLM_REPLAY_SPEED: "-1" })).toThrow(/LLM_REPLAY_SPEED/);
  });

  it("needs no LLM key to replay against OpenAI's address", () => {
    expect(() => parseConfig({ USE_LLM_MOCK: "false" })).toThrow(/LLM_KEY/);
    expect(parseConfig({ USE_LLM_MOCK: "false", LLM_REPLAY_DIR: root }).LLM_REPLAY_DIR).toBe(root);
  });
});
