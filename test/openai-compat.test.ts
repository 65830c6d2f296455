// The OpenAI-compatible surface end to end: the official `openai` SDK, unchanged, pointed at a
// real listening Chorus (built-in mock LLM, or the SDK-backed client against a mock upstream).
import OpenAI, {
  APIError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  RateLimitError,
} from "openai";
import type { ChatCompletionChunk, ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { completionChunks } from "../src/http/openai-routes.js";
import { writeSse } from "../src/http/sse-writer.js";
import { EventLog } from "../src/run/event-log.js";
import { runEvent } from "../src/run/events.js";
import { callerOf, startMockUpstream, type MockUpstream } from "./support/mock-upstream.js";
import { last, readSse } from "./support/sse-client.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

const sdk = (chorus: TestChorus, opts: { apiKey?: string; maxRetries?: number } = {}) =>
  new OpenAI({ baseURL: `${chorus.url}/v1`, apiKey: opts.apiKey ?? "not-needed", maxRetries: opts.maxRetries ?? 0 });

const ask = (content: string): ChatCompletionMessageParam[] => [{ role: "user", content }];

/** The `done` (or `error`) event of the run behind a completion, replayed from the events route. */
async function runEnd(chorus: TestChorus, messageId: string) {
  return last(await readSse(`${chorus.url}/api/process/${messageId}/events`));
}

/** What the SDK raised, for assertions on its class and fields. */
async function raised(p: Promise<unknown>): Promise<APIError> {
  try {
    await p;
  } catch (e) {
    return e as APIError;
  }
  throw new Error("expected the call to fail");
}

describe("with the built-in mock LLM", () => {
  let chorus: TestChorus;
  let client: OpenAI;
  beforeAll(async () => {
    chorus = await startChorus();
    client = sdk(chorus);
  });
  afterAll(() => chorus.close());

  it("lists and retrieves the model chorus", async () => {
    const models = [];
    for await (const m of client.models.list()) models.push(m);
    expect(models.map((m) => m.id)).toEqual(["chorus", "chorus/council", "chorus/deep", "chorus/default", "chorus/fast", "chorus/fusion"]);
    // Exactly the shape Open WebUI and LibreChat read.
    const list = (await (await fetch(`${chorus.url}/v1/models`)).json()) as { object: string; data: unknown[] };
    expect(list.object).toBe("list");
    for (const m of list.data) expect(m).toEqual({ id: expect.any(String), object: "model", created: expect.any(Number), owned_by: "chorus" });
    expect((await client.models.retrieve("chorus")).id).toBe("chorus");
    expect((await client.models.retrieve("chorus/council")).id).toBe("chorus/council");
    expect((await raised(client.models.retrieve("chorus/nope"))).code).toBe("model_not_found");
    const err = await raised(client.models.retrieve("gpt-4o"));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.code).toBe("model_not_found");
  });

  it("streams the summary as delta.content: role first, stop, usage, and the text is the run's done summary", async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: "chorus", messages: ask("Explain gravity like I am 5"), stream: true, stream_options: { include_usage: true } })
      .withResponse();
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toMatch(/^\[mock\] Combining the views of analyst, critic and explainer\. On gravity: .+USE_LLM_MOCK=false.+\.\)$/s);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    expect(chunks.filter((c) => (c.choices[0]?.delta.content ?? "") !== "").length).toBeGreaterThan(5); // token by token
    const stop = chunks.findIndex((c) => c.choices[0]?.finish_reason === "stop");
    expect(stop).toBe(chunks.length - 2);
    const usage = chunks[chunks.length - 1]!;
    expect(usage.choices).toEqual([]);
    expect(usage.usage!.total_tokens).toBe(usage.usage!.prompt_tokens + usage.usage!.completion_tokens);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0]!.id).toMatch(/^chatcmpl-/);
    expect(chunks.every((c) => c.model === "chorus" && c.object === "chat.completion.chunk")).toBe(true);

    // The completion is a Chorus run: its id names it, and its done summary is exactly the streamed text.
    const messageId = response.headers.get("x-chorus-message-id")!;
    expect(messageId).toBe(chunks[0]!.id);
    const end = await runEnd(chorus, messageId);
    expect(end).toMatchObject({ event: "done", data: { summary: text, status: "ok", usage: usage.usage } });
  });

  it("answers without streaming with exactly the run's summary and its usage; the same as /api/process", async () => {
    const { data: completion, response } = await client.chat.completions
      .create({ model: "chorus", messages: ask("Why is the sky blue?") })
      .withResponse();
    expect(completion).toMatchObject({ object: "chat.completion", model: "chorus", id: expect.stringMatching(/^chatcmpl-/) });
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]).toMatchObject({ finish_reason: "stop", message: { role: "assistant" } });
    const content = completion.choices[0]!.message.content!;
    expect(content).toMatch(/^\[mock\] Combining the views of analyst, critic and explainer\. On sky and blue: /);

    const end = await runEnd(chorus, response.headers.get("x-chorus-message-id")!);
    expect(end.data.summary).toBe(content);
    expect(completion.usage).toEqual(end.data.usage);
    expect(completion.usage!.total_tokens).toBeGreaterThan(0);

    // The same question through the native route gives the same summary (the mock is deterministic).
    const native = await readSse(`${chorus.url}/api/process`, { message: "Why is the sky blue?", message_id: "native-1" });
    expect(last(native).data.summary).toBe(content);
  });

  it("gives each call its own run, and sends no usage chunk unless asked", async () => {
    const a = await client.chat.completions.create({ model: "chorus", messages: ask("same question") });
    const b = await client.chat.completions.create({ model: "chorus", messages: ask("same question") });
    expect(a.id).not.toBe(b.id);
    expect(a.choices[0]!.message.content).toBe(b.choices[0]!.message.content);

    const stream = await client.chat.completions.create({ model: "chorus", messages: ask("no usage please"), stream: true });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.choices.length === 1 && c.usage === undefined)).toBe(true);
  });

  it("raises BadRequestError naming the field for input that breaks the rules", async () => {
    const cases: [unknown, string][] = [
      [{ model: "chorus", messages: [] }, "messages"],
      [{ messages: ask("hi") }, "model"],
      [{ model: "chorus", messages: ask("   ") }, "messages.0.content"],
      [{ model: "chorus", messages: [...ask("hi"), { role: "assistant", content: "hello" }] }, "messages.1.role"],
      [{ model: "chorus", messages: [{ role: "tool", content: "x", tool_call_id: "t" }] }, "messages.0.role"],
      [{ model: "chorus", messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] }, "messages.0.content"],
      [{ model: "chorus", messages: ask("x".repeat(16_001)) }, "messages.0.content"],
      // Tool calls and several choices are refused, not answered with prose a client would misread.
      [{ model: "chorus", messages: ask("hi"), tools: [{ type: "function", function: { name: "f", parameters: {} } }] }, "tools"],
      [{ model: "chorus", messages: ask("hi"), tool_choice: "required" }, "tool_choice"],
      [{ model: "chorus", messages: ask("hi"), n: 2 }, "n"],
    ];
    for (const [body, param] of cases) {
      const err = await raised(client.chat.completions.create(body as never));
      expect(err, JSON.stringify(body).slice(0, 80)).toBeInstanceOf(BadRequestError);
      expect(err.code).toBe("invalid_request");
      expect(err.param).toBe(param);
      expect(err.type).toBe("invalid_request_error");
    }
  });

  it("says why for tools, n > 1 and image parts", async () => {
    const body = async (extra: object, messages = ask("hi")) => {
      const res = await fetch(`${chorus.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "chorus", messages, ...extra }),
      });
      expect(res.status).toBe(400);
      return ((await res.json()) as { error: { message: string } }).error.message;
    };
    expect(await body({ tools: [{ type: "function", function: { name: "f" } }] })).toBe("tools: tool calling is not supported: Chorus answers with text only");
    expect(await body({ n: 2 })).toBe("n: only n = 1 is supported: the run gives one answer");
    const image = [{ role: "user", content: [{ type: "text", text: "what is this?" }, { type: "image_url", image_url: { url: "https://x/y.png" } }] }];
    expect(await body({}, image as never)).toMatch(/^messages\.0\.content: .*text/);
  });

  it("accepts the parameters it does not use, and answers as usual", async () => {
    const completion = await client.chat.completions.create({
      model: "chorus",
      messages: [{ role: "system", content: "Be brief." }, ...ask("Why is the sky blue?")],
      temperature: 0.2,
      top_p: 0.9,
      stop: ["\n\n\n"],
      user: "user-1",
      seed: 7,
      presence_penalty: 0.1,
      frequency_penalty: 0.1,
      n: 1,
      max_tokens: 50,
      max_completion_tokens: 50,
      logit_bias: {},
      tools: [],
      tool_choice: "none",
      response_format: { type: "text" },
      metadata: { k: "v" },
    } as never);
    expect(completion.choices[0]!.message.content).toMatch(/^\[mock\] Combining the views of analyst, critic and explainer\. On sky and blue: /);
  });

  it("sends chunks exactly as strict clients validate them, with the usage chunk only when asked", async () => {
    const chunksOf = async (extra: object) => {
      const r = await readSse(`${chorus.url}/v1/chat/completions`, { model: "chorus", messages: ask("Explain tides"), stream: true, ...extra });
      expect(r.events.at(-1)!.data).toBe("[DONE]");
      return r.events.slice(0, -1).map((e) => e.data as any);
    };
    for (const includeUsage of [false, true]) {
      const chunks = await chunksOf(includeUsage ? { stream_options: { include_usage: true } } : {});
      const withChoices = includeUsage ? chunks.slice(0, -1) : chunks;
      for (const c of withChoices) {
        expect(Object.keys(c).sort()).toEqual(["choices", "created", "id", "model", "object", ...(includeUsage ? ["usage"] : [])].sort());
        expect(c).toMatchObject({ id: chunks[0].id, object: "chat.completion.chunk", created: expect.any(Number), model: "chorus" });
        expect(c.choices).toEqual([{ index: 0, delta: expect.any(Object), logprobs: null, finish_reason: expect.toBeOneOf([null, "stop"]) }]);
      }
      // The role only in the first chunk; "stop" only on the last chunk with a choice (after the last token, as OpenAI does).
      expect(withChoices.map((c) => c.choices[0].delta.role ?? null)).toEqual(["assistant", ...withChoices.slice(1).map(() => null)]);
      expect(withChoices.map((c) => c.choices[0].finish_reason)).toEqual([...withChoices.slice(1).map(() => null), "stop"]);
      expect(withChoices.at(-2)!.choices[0].delta.content).toMatch(/\S/);
      if (includeUsage) {
        expect(chunks.at(-1)).toEqual({ id: chunks[0].id, object: "chat.completion.chunk", created: chunks[0].created, model: "chorus", choices: [], usage: expect.objectContaining({ total_tokens: expect.any(Number) }) });
      } else {
        expect(chunks.some((c) => c.choices.length === 0 || "usage" in c)).toBe(false);
      }
    }
  });

  it("raises NotFoundError for another model", async () => {
    const err = await raised(client.chat.completions.create({ model: "gpt-4o", messages: ask("hi") }));
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.code).toBe("model_not_found");
    expect(err.param).toBe("model");
  });

  it("answers bad bodies, wrong content types and unknown /v1 routes in OpenAI's error shape", async () => {
    const post = (body: string, type = "application/json") =>
      fetch(`${chorus.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": type }, body });
    const shape = { error: { message: expect.any(String), type: "invalid_request_error", param: null } };
    let res = await post("{not json");
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { ...shape.error, code: "invalid_json" } });
    res = await post(JSON.stringify({ model: "chorus", messages: ask("hi") }), "text/plain");
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: { ...shape.error, code: "unsupported_media_type" } });
    res = await post(JSON.stringify({ model: "chorus", messages: ask("x".repeat(70_000)) }));
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { ...shape.error, code: "payload_too_large" } });
    res = await fetch(`${chorus.url}/v1/embeddings`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { ...shape.error, code: "not_found" } });
  });

  it("answers 503 shutting_down in OpenAI's shape while draining", async () => {
    chorus.chorus.state.draining = true;
    try {
      const err = await raised(client.chat.completions.create({ model: "chorus", messages: ask("hi") }));
      expect(err).toBeInstanceOf(InternalServerError);
      expect(err.status).toBe(503);
      expect(err.code).toBe("shutting_down");
    } finally {
      chorus.chorus.state.draining = false;
    }
  });
});

describe("keys and rate limits", () => {
  let chorus: TestChorus | undefined;
  afterEach(async () => {
    await chorus?.close();
    chorus = undefined;
  });

  it("raises AuthenticationError without a valid key, works with one, and /api keeps its own envelope", async () => {
    chorus = await startChorus({ API_KEYS: "key-alpha-111" });
    for (const apiKey of ["wrong", "key-alpha-1112"]) {
      const err = await raised(sdk(chorus, { apiKey }).chat.completions.create({ model: "chorus", messages: ask("hi") }));
      expect(err).toBeInstanceOf(AuthenticationError);
      expect(err.code).toBe("unauthorized");
      expect(err.type).toBe("authentication_error");
      expect(JSON.stringify(err.error)).not.toContain("key-alpha");
    }
    expect(await raised(sdk(chorus, { apiKey: "nope" }).models.retrieve("chorus"))).toBeInstanceOf(AuthenticationError);
    const ok = await sdk(chorus, { apiKey: "key-alpha-111" }).chat.completions.create({ model: "chorus", messages: ask("hi") });
    expect(ok.choices[0]!.message.content).toMatch(/^\[mock\] Combining the views/);

    const native = await chorus.post({ message: "hi", message_id: "m1" });
    expect(native.status).toBe(401);
    expect(await native.json()).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
  });

  it("charges each completion one point and raises RateLimitError with Retry-After when the budget is spent", async () => {
    chorus = await startChorus({ RATE_LIMIT_POINTS: "1", RATE_LIMIT_WINDOW_S: "30" });
    const client = sdk(chorus);
    const { response } = await client.chat.completions.create({ model: "chorus", messages: ask("hi") }).withResponse();
    expect(response.headers.get("ratelimit-remaining")).toBe("0");
    const err = await raised(client.chat.completions.create({ model: "chorus", messages: ask("hi") }));
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err.code).toBe("rate_limited");
    expect(Number(err.headers?.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Listing models is a read: free.
    expect((await client.models.retrieve("chorus")).id).toBe("chorus");
  });
});

describe("against an OpenAI-compatible upstream", () => {
  let upstream: MockUpstream;
  let chorus: TestChorus;
  let client: OpenAI;
  beforeAll(async () => {
    upstream = await startMockUpstream();
    chorus = await startChorus({
      USE_LLM_MOCK: "false",
      LLM_BASE_URL: upstream.url,
      LLM_KEY: "sk-test-SECRET-KEY-123",
      LLM_MAX_RETRIES: "0",
      SSE_HEARTBEAT_MS: "40",
      // A client that leaves cancels its run at once (the default grace waits 10 s for a resume).
      RUN_ORPHAN_GRACE_MS: "0",
    });
    client = sdk(chorus);
  });
  afterAll(async () => {
    await chorus.close();
    await upstream.close();
  });
  afterEach(() => {
    upstream.setPlanner(() => ({}));
    upstream.calls.length = 0;
  });

  it("gives every agent and the summarizer the earlier turns, in order, after its own system prompt", async () => {
    upstream.setPlanner((b) => (callerOf(b) === "moderator" ? { tokens: ["La ", "gravité ", "est ", "plus ", "faible."] } : {}));
    const completion = await client.chat.completions.create({
      model: "chorus",
      messages: [
        { role: "system", content: "Answer in French." },
        { role: "user", content: "What is gravity?" },
        { role: "assistant", content: "It pulls things together." },
        { role: "developer", content: "Keep it short." },
        { role: "user", content: [{ type: "text", text: "And on" }, { type: "text", text: "the Moon?" }] },
      ],
    });
    expect(completion.choices[0]!.message.content).toBe("La gravité est plus faible.");

    const history = [
      { role: "system", content: "Answer in French." },
      { role: "user", content: "What is gravity?" },
      { role: "assistant", content: "It pulls things together." },
      { role: "system", content: "Keep it short." },
    ];
    expect(upstream.calls.map((c) => callerOf(c.body)).sort()).toEqual(["analyst", "critic", "explainer", "moderator"]);
    for (const call of upstream.calls) {
      const [own, ...rest] = call.body.messages;
      expect(own!.role).toBe("system");
      expect(rest.slice(0, history.length)).toEqual(history);
      const question = rest[history.length]!;
      expect(question.role).toBe("user");
      if (callerOf(call.body) === "moderator") expect(question.content).toContain("## Question\n\nAnd on\nthe Moon?");
      else expect(question.content).toBe("And on\nthe Moon?");
    }
  });

  it("keeps plain SSE clients working across heartbeats: data-only frames, ending in [DONE]", async () => {
    upstream.setPlanner((b) => (callerOf(b) === "moderator" ? { ttftMs: 200, tokens: ["Slow ", "but ", "sure."] } : {}));
    const raw = await readSse(`${chorus.url}/v1/chat/completions`, { model: "chorus", messages: ask("hi"), stream: true });
    expect(raw.status).toBe(200);
    expect(raw.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(raw.comments).toContain("ping");
    expect(raw.events.every((e) => e.event === "message" && e.id === undefined)).toBe(true);
    expect(last(raw).data).toBe("[DONE]");
    const text = raw.events.slice(0, -1).map((e) => e.data.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe("Slow but sure.");
  });

  it("streams a failed run as one error chunk, which the SDK raises, without [DONE]", async () => {
    upstream.setPlanner(() => ({ status: 500 }));
    const stream = await client.chat.completions.create({ model: "chorus", messages: ask("hi"), stream: true });
    const seen: ChatCompletionChunk[] = [];
    const err = await raised((async () => {
      for await (const chunk of stream) seen.push(chunk);
    })());
    expect(err).toBeInstanceOf(APIError);
    expect(err.code).toBe("all_agents_failed");
    expect(err.type).toBe("server_error");
    expect(seen[0]!.choices[0]!.delta.role).toBe("assistant");

    const raw = await readSse(`${chorus.url}/v1/chat/completions`, { model: "chorus", messages: ask("hi"), stream: true });
    expect(last(raw).data).toEqual({ error: { message: expect.any(String), type: "server_error", param: null, code: "all_agents_failed" } });
    expect(raw.events.some((e) => e.data === "[DONE]")).toBe(false);
    expect(JSON.stringify(raw.events)).not.toContain("SECRET");
  });

  it("answers a failed run 502 without streaming, and tells the SDK not to retry the whole fan-out", async () => {
    upstream.setPlanner(() => ({ status: 500 }));
    const err = await raised(sdk(chorus, { maxRetries: 2 }).chat.completions.create({ model: "chorus", messages: ask("hi") }));
    expect(err).toBeInstanceOf(InternalServerError);
    expect(err.status).toBe(502);
    expect(err.code).toBe("all_agents_failed");
    expect(err.message).not.toContain("SECRET");
    expect(err.headers?.get("x-should-retry")).toBe("false");
    expect(upstream.calls).toHaveLength(3); // one run: the SDK did not retry it
  });

  it("cancels the run and aborts its upstream calls when a streaming client leaves", async () => {
    upstream.setPlanner((b) => (callerOf(b) === "moderator" ? { stallAfter: 1 } : {}));
    const { data: stream, response } = await client.chat.completions
      .create({ model: "chorus", messages: ask("hi"), stream: true })
      .withResponse();
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) break; // leaving aborts the request
    const summarizer = () => upstream.calls.find((c) => callerOf(c.body) === "moderator");
    await expect.poll(() => summarizer()?.aborted, { timeout: 5000 }).toBe(true);
    const run = chorus.chorus.registry.get(response.headers.get("x-chorus-message-id")!)!;
    await expect.poll(() => run.inFlight).toBe(false);
    expect(run.log.events.at(-1)).toMatchObject({ event: "error", data: { code: "cancelled" } });
  });

  it("cancels the run when a non-streaming client gives up waiting", async () => {
    upstream.setPlanner((b) => (callerOf(b) === "moderator" ? { stallAfter: 1 } : {}));
    const abort = new AbortController();
    const pending = raised(client.chat.completions.create({ model: "chorus", messages: ask("hi") }, { signal: abort.signal }));
    const summarizer = () => upstream.calls.find((c) => callerOf(c.body) === "moderator");
    await expect.poll(() => summarizer() !== undefined, { timeout: 5000 }).toBe(true);
    abort.abort();
    expect(await pending).toBeInstanceOf(APIUserAbortError);
    await expect.poll(() => summarizer()!.aborted, { timeout: 5000 }).toBe(true);
    await expect.poll(() => chorus.chorus.registry.inFlight).toBe(0);
  });
});

describe("a summary restarted mid-stream", () => {
  // The run's log is scripted here, and served as /v1/chat/completions serves it, over real HTTP.
  it("ends the stream with an error the SDK raises, after the tokens already sent, and no [DONE]", async () => {
    // As a client following live sees it (a late reader would find the void tokens folded away).
    const events = [
      runEvent(1, "start", { message_id: "r1", agents: ["analyst"] }),
      runEvent(2, "summary_delta", { delta: "Half an " }),
      runEvent(3, "summary_delta", { delta: "answer" }),
      runEvent(4, "summary_restart", { reason: { code: "upstream_error", message: "upstream failed (502)" } }),
      runEvent(5, "summary_delta", { delta: "A whole new answer." }),
      runEvent(6, "done", { message_id: "r1", status: "ok", agents: { ok: 1, failed: 0 }, summary: "A whole new answer.", latency_ms: 5 }),
    ];
    const log = {
      async *follow() {
        for (const e of events) yield [e];
      },
    };
    const server = createServer((_req, res) => {
      void writeSse(res, completionChunks({ log }, { id: "chatcmpl-r1", created: 1, model: "chorus", includeUsage: false }), {
        heartbeatMs: 10_000,
        writeTimeoutMs: 10_000,
        headers: {},
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const client = new OpenAI({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, apiKey: "x", maxRetries: 0 });
      const stream = await client.chat.completions.create({ model: "chorus", messages: ask("hi"), stream: true });
      let text = "";
      const err = await raised(
        (async () => {
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
        })(),
      );
      expect(text).toBe("Half an answer");
      expect(err).toBeInstanceOf(APIError);
      expect(err.code).toBe("summary_restart");
      expect(err.message).toContain("restarted after its first tokens (upstream_error: upstream failed (502))");
    } finally {
      server.close();
    }
  });

  it("is no error when no summary text had gone out yet: the new summary streams as usual", async () => {
    const log = new EventLog();
    log.append("summary_restart", { reason: { code: "timeout", message: "no token" } });
    log.append("summary_delta", { delta: "Fresh." });
    log.append("done", { message_id: "r1", status: "ok", agents: { ok: 1, failed: 0 }, summary: "Fresh.", latency_ms: 5 });
    log.end();
    const frames: string[] = [];
    const source = completionChunks({ log }, { id: "chatcmpl-r2", created: 1, model: "chorus", includeUsage: false });
    for await (const f of source(new AbortController().signal)) frames.push(f);
    const text = frames.join("");
    expect(text).not.toContain("error");
    expect(text).toContain('"content":"Fresh."');
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
  });
});
