// The clients people already point at OpenAI-compatible servers, unchanged, against a real
// listening Chorus (built-in mock LLM): the Vercel AI SDK's OpenAI-compatible provider (which
// validates every chunk with zod), LangChain's ChatOpenAI (which asks for the usage chunk), and
// Python's `openai` package (installed by pip when missing; skipped, saying why, when it cannot
// be). The Node `openai` SDK has its own file: openai-compat.test.ts.
import { spawn } from "node:child_process";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { AIMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { APICallError, generateText, streamText, tool } from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { last, readSse } from "./support/sse-client.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

let chorus: TestChorus;
beforeAll(async () => {
  chorus = await startChorus();
});
afterAll(() => chorus.close());

/** The run's `done` summary and usage, replayed from the events route: what the client must show. */
async function runDone(messageId: string) {
  const end = last(await readSse(`${chorus.url}/api/process/${messageId}/events`));
  expect(end.event).toBe("done");
  return end.data as { summary: string; usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } };
}

/** Remembers the X-Chorus-Message-Id of each response a client library receives. */
function recordingFetch() {
  const ids: string[] = [];
  const f: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const id = res.headers.get("x-chorus-message-id");
    if (id) ids.push(id);
    return res;
  };
  return { ids, fetch: f };
}

const SUMMARY = /^\[mock\] Combining the views of analyst, critic and explainer\. On /;

describe("Vercel AI SDK (@ai-sdk/openai-compatible)", () => {
  const provider = (rec = recordingFetch()) =>
    createOpenAICompatible({ name: "chorus", baseURL: `${chorus.url}/v1`, apiKey: "not-needed", includeUsage: true, fetch: rec.fetch });

  it("streamText streams the summary token by token, with finish reason and usage", async () => {
    const rec = recordingFetch();
    const result = streamText({ model: provider(rec)("chorus"), prompt: "Why is the sky blue?", maxRetries: 0 });
    const parts: string[] = [];
    for await (const t of result.textStream) parts.push(t);
    const text = parts.join("");
    expect(text).toMatch(SUMMARY);
    expect(parts.length).toBeGreaterThan(5);
    expect(await result.finishReason).toBe("stop");
    const done = await runDone(rec.ids[0]!);
    expect(text).toBe(done.summary);
    const usage = await result.usage;
    expect(usage).toMatchObject({ inputTokens: done.usage.prompt_tokens, outputTokens: done.usage.completion_tokens, totalTokens: done.usage.total_tokens });
  });

  it("generateText answers with the summary, and earlier messages reach the agents as the conversation", async () => {
    const rec = recordingFetch();
    const { text, finishReason, usage } = await generateText({
      model: provider(rec)("chorus"),
      maxRetries: 0,
      system: "Answer briefly.",
      messages: [
        { role: "user", content: "Why is the sky blue?" },
        { role: "assistant", content: "Because of Rayleigh scattering." },
        { role: "user", content: "And what about sunsets?" },
      ],
    });
    expect(finishReason).toBe("stop");
    expect(text).toContain("Building on your earlier question about sky and blue");
    expect(text).toBe((await runDone(rec.ids[0]!)).summary);
    expect(usage.totalTokens).toBeGreaterThan(0);
  });

  it("a request with tools fails with a 400 APICallError that says tools are not supported", async () => {
    const err = await generateText({
      model: provider()("chorus"),
      maxRetries: 0,
      prompt: "What is the weather in Paris?",
      tools: { weather: tool({ description: "weather in a city", inputSchema: z.object({ city: z.string() }) }) },
    }).catch((e: unknown) => e);
    expect(APICallError.isInstance(err)).toBe(true);
    expect((err as APICallError).statusCode).toBe(400);
    expect((err as APICallError).message).toContain("tool calling is not supported");
  });
});

describe("LangChain (@langchain/openai ChatOpenAI)", () => {
  const chat = (rec = recordingFetch()) =>
    new ChatOpenAI({ model: "chorus", apiKey: "not-needed", maxRetries: 0, configuration: { baseURL: `${chorus.url}/v1`, fetch: rec.fetch } });

  it("stream yields the summary in chunks, the last one with usage metadata", async () => {
    const rec = recordingFetch();
    let text = "";
    let chunks = 0;
    let usage: unknown;
    for await (const chunk of await chat(rec).stream("Explain gravity like I am 5")) {
      text += chunk.content as string;
      chunks++;
      usage = chunk.usage_metadata ?? usage;
    }
    expect(text).toMatch(SUMMARY);
    expect(chunks).toBeGreaterThan(5);
    const done = await runDone(rec.ids[0]!);
    expect(text).toBe(done.summary);
    expect(usage).toMatchObject({ input_tokens: done.usage.prompt_tokens, output_tokens: done.usage.completion_tokens, total_tokens: done.usage.total_tokens });
  });

  it("invoke answers with the summary and its usage, earlier messages as the conversation", async () => {
    const rec = recordingFetch();
    const res = await chat(rec).invoke([
      new SystemMessage("Answer briefly."),
      new HumanMessage("How do vaccines work?"),
      new AIMessage("They train the immune system."),
      new HumanMessage("And boosters?"),
    ]);
    const done = await runDone(rec.ids[0]!);
    expect(res.content).toBe(done.summary);
    expect(res.content).toContain("Building on your earlier question about vaccines and work");
    expect(res.usage_metadata).toMatchObject({ input_tokens: done.usage.prompt_tokens, output_tokens: done.usage.completion_tokens, total_tokens: done.usage.total_tokens });
    expect(res.response_metadata).toMatchObject({ finish_reason: "stop" });
  });
});

/** Runs a program to its end without blocking this process (the Chorus under test lives in it). */
function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", (error) => resolve({ code: null, stdout, stderr, error }));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const PY_OPENAI = "openai>=1.40,<3";

/**
 * A Python with the `openai` package: python3's own; else python3 after `pip install` (refused
 * where the system Python is externally managed, as on Debian); else a venv in test-output/.
 * Or why none can be had.
 */
async function pythonOpenAi(): Promise<{ ok: true; python: string } | { ok: false; why: string }> {
  const has = async (python: string) => (await run(python, ["-c", "import openai"], 30_000)).code === 0;
  const probe = await run("python3", ["-c", "import sys"], 30_000);
  if (probe.error) return { ok: false, why: `python3 is not installed (${(probe.error as NodeJS.ErrnoException).code})` };
  if (await has("python3")) return { ok: true, python: "python3" };
  const pip = await run("python3", ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", PY_OPENAI], 180_000);
  if (await has("python3")) return { ok: true, python: "python3" };
  const venv = "test-output/python-openai";
  const python = `${venv}/bin/python`;
  if (!(await has(python))) {
    const made = await run("python3", ["-m", "venv", venv], 60_000);
    if (made.code !== 0) return { ok: false, why: `pip: ${lastLine(pip.stderr)}; venv: ${lastLine(made.stderr)}` };
    const inVenv = await run(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", PY_OPENAI], 180_000);
    if (!(await has(python))) return { ok: false, why: `pip could not install openai: ${lastLine(inVenv.stderr || pip.stderr)}` };
  }
  return { ok: true, python };
}

const lastLine = (s: string) => s.trim().split("\n").at(-1) ?? "";

// Streams, answers whole, and raises BadRequestError for n=2, printing one JSON line per check.
const PY_SCRIPT = `
import json, sys, openai
c = openai.OpenAI(base_url=sys.argv[1], api_key="not-needed", max_retries=0)
s = c.chat.completions.create(model="chorus", messages=[{"role": "user", "content": "Why is the sky blue?"}], stream=True, stream_options={"include_usage": True})
parts, usage, finish = [], None, None
for ch in s:
    if ch.choices:
        parts.append(ch.choices[0].delta.content or "")
        finish = ch.choices[0].finish_reason or finish
    if ch.usage:
        usage = ch.usage.total_tokens
print(json.dumps({"stream": "".join(parts), "chunks": len(parts), "finish": finish, "usage": usage}))
r = c.chat.completions.create(model="chorus", messages=[{"role": "user", "content": "Why is the sky blue?"}])
print(json.dumps({"whole": r.choices[0].message.content, "usage": r.usage.total_tokens}))
try:
    c.chat.completions.create(model="chorus", messages=[{"role": "user", "content": "hi"}], n=2)
    print(json.dumps({"n2": "accepted"}))
except openai.BadRequestError as e:
    print(json.dumps({"n2": e.status_code, "param": e.param}))
`;

describe("Python openai package", () => {
  let python: Awaited<ReturnType<typeof pythonOpenAi>>;
  beforeAll(async () => {
    python = await pythonOpenAi();
    if (!python.ok) console.warn(`skipping the Python openai client test: ${python.why}`);
  }, 240_000);

  it("streams (with usage), answers whole, and raises BadRequestError for n=2", async (ctx) => {
    if (!python.ok) {
      ctx.skip();
      return;
    }
    const r = await run(python.python, ["-c", PY_SCRIPT, `${chorus.url}/v1`], 60_000);
    expect(r.stderr).toBe("");
    const [streamed, whole, n2] = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(streamed.stream).toMatch(SUMMARY);
    expect(streamed.chunks).toBeGreaterThan(5);
    expect(streamed.finish).toBe("stop");
    expect(streamed.usage).toBeGreaterThan(0);
    expect(whole.whole).toBe(streamed.stream); // deterministic mock: same question, same summary
    expect(whole.usage).toBe(streamed.usage);
    expect(n2).toEqual({ n2: 400, param: "n" });
  });
});
