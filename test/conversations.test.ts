// Conversations: earlier turns reach every agent and the summarizer, bounded, in start order,
// in memory and in Redis shared by two replicas.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { callerOf, type ChatBody } from "./support/mock-upstream.js";
import { startRedis, type TestRedis } from "./support/redis-server.js";
import { last, readSse } from "./support/sse-client.js";
import { fileUpstream } from "./support/file-upstream.js";
import type { TestChorus } from "./support/start-chorus.js";

const { upstream, start } = await fileUpstream("sk-conv");
let chorus: TestChorus | undefined;
let seq = 0;

afterEach(async () => {
  await chorus?.close();
  chorus = undefined;
});

const ask = (c: TestChorus, message: string, conversation_id: string) =>
  readSse(`${c.url}/api/process`, { message, message_id: `conv-${++seq}`, conversation_id });
/** The non-system messages a call carried, as "role: content" (user contents trimmed to the question). */
const dialogue = (b: ChatBody) => b.messages.filter((m) => m.role !== "system").map((m) => `${m.role}: ${m.content.split("\n")[0]}`);
const lastCallOf = (who: string) => upstream.calls.filter((c) => callerOf(c.body) === who).at(-1)!.body;

describe("conversations in memory", () => {
  it("gives every agent and the summarizer the earlier turns, oldest first, and lists them", async () => {
    chorus = await start();
    const one = await ask(chorus, "What is a star?", "c-1");
    const two = await ask(chorus, "And a planet?", "c-1");
    const s1 = last(one).data.summary;
    expect(dialogue(lastCallOf("critic"))).toEqual(["user: What is a star?", `assistant: ${s1}`, "user: And a planet?"]);
    expect(dialogue(lastCallOf("moderator")).slice(0, 2)).toEqual(["user: What is a star?", `assistant: ${s1}`]);
    const res = await fetch(`${chorus.url}/api/conversations/c-1`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.conversation_id).toBe("c-1");
    expect(body.turns.map((t: { message: string; summary: string; status: string }) => [t.message, t.summary, t.status])).toEqual([
      ["What is a star?", s1, "ok"],
      ["And a planet?", last(two).data.summary, "ok"],
    ]);
    expect(Date.parse(body.turns[0].created_at)).not.toBeNaN();
  });

  it("keeps within HISTORY_MAX_TURNS and HISTORY_MAX_CHARS, dropping the oldest first", async () => {
    chorus = await start({ HISTORY_MAX_TURNS: "2" });
    for (const q of ["q1", "q2", "q3", "q4"]) await ask(chorus, q, "c-bounds");
    expect(dialogue(lastCallOf("analyst")).filter((l) => l.startsWith("user"))).toEqual(["user: q2", "user: q3", "user: q4"]);
    await chorus.close();
    // Each stored turn is ~40 characters: 100 fit two of them.
    chorus = await start({ HISTORY_MAX_CHARS: "100" });
    for (const q of ["q1", "q2", "q3", "q4"]) await ask(chorus, q, "c-chars");
    expect(dialogue(lastCallOf("analyst")).filter((l) => l.startsWith("user"))).toEqual(["user: q2", "user: q3", "user: q4"]);
  });

  it("adds nothing for a failed run, and starts afresh after DELETE", async () => {
    chorus = await start();
    await ask(chorus, "kept", "c-fail");
    upstream.setPlanner(() => ({ status: 500 }));
    expect(last(await ask(chorus, "lost", "c-fail")).data.code).toBe("all_agents_failed");
    upstream.setPlanner(() => ({}));
    const turns = (await (await fetch(`${chorus.url}/api/conversations/c-fail`)).json()).turns;
    expect(turns.map((t: { message: string }) => t.message)).toEqual(["kept"]);

    expect((await fetch(`${chorus.url}/api/conversations/c-fail`, { method: "DELETE" })).status).toBe(204);
    expect((await fetch(`${chorus.url}/api/conversations/c-fail`)).status).toBe(404);
    await ask(chorus, "fresh", "c-fail");
    expect(dialogue(lastCallOf("analyst"))).toEqual(["user: fresh"]);
    const nf = await fetch(`${chorus.url}/api/conversations/nobody`);
    expect((await nf.json()).error.code).toBe("conversation_not_found");
    expect((await fetch(`${chorus.url}/api/conversations/bad%20id`)).status).toBe(400);
  });

  it("lets two runs started at once both see the history as it was, and keeps both turns in start order", async () => {
    chorus = await start();
    await ask(chorus, "base", "c-race");
    upstream.setPlanner((b) => (dialogue(b).some((l) => l.includes("slow one")) && callerOf(b) !== "moderator" ? { ttftMs: 400 } : {}));
    const slow = ask(chorus, "slow one", "c-race");
    await new Promise((r) => setTimeout(r, 50));
    const fast = await ask(chorus, "fast one", "c-race");
    await slow;
    expect(last(fast).event).toBe("done");
    for (const q of ["slow one", "fast one"]) {
      const call = upstream.calls.find((c) => callerOf(c.body) === "analyst" && dialogue(c.body).at(-1) === `user: ${q}`)!;
      expect(dialogue(call.body).filter((l) => l.startsWith("user"))).toEqual(["user: base", `user: ${q}`]);
    }
    const turns = (await (await fetch(`${chorus.url}/api/conversations/c-race`)).json()).turns;
    expect(turns.map((t: { message: string }) => t.message)).toEqual(["base", "slow one", "fast one"]);
  });
});

describe("conversations in Redis", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  it("are shared by two replicas and survive either of them", async () => {
    const a = await start({ REDIS_URL: redis.url });
    const b = await start({ REDIS_URL: redis.url });
    try {
      const one = await ask(a, "first on A", "c-shared");
      await ask(b, "second on B", "c-shared");
      expect(dialogue(lastCallOf("explainer"))).toEqual(["user: first on A", `assistant: ${last(one).data.summary}`, "user: second on B"]);
      await a.close();
      const turns = (await (await fetch(`${b.url}/api/conversations/c-shared`)).json()).turns;
      expect(turns.map((t: { message: string }) => t.message)).toEqual(["first on A", "second on B"]);
      expect((await fetch(`${b.url}/api/conversations/c-shared`, { method: "DELETE" })).status).toBe(204);
      expect((await fetch(`${b.url}/api/conversations/c-shared`)).status).toBe(404);
    } finally {
      await a.close().catch(() => {});
      await b.close();
    }
  });
});
