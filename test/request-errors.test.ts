// Every bad input of the contract's table: its status, its JSON error body, and no crash.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

let chorus: TestChorus;
beforeAll(async () => {
  chorus = await startChorus({ MAX_MESSAGE_CHARS: "10", MAX_BODY_BYTES: "1024" });
});
afterAll(() => chorus.close());

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/json");
  const body = await res.json();
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message).not.toMatch(/at .*\.ts:\d+/); // no stack traces
  return body.error;
}

const valid = { message: "hello", message_id: "m-1" };

describe("POST /api/process refuses bad input", () => {
  it.each([
    ["an empty body", ""],
    ["whitespace", "   "],
    ["malformed JSON", '{"message": "hi",'],
    ["a lone value", "{"],
  ])("invalid_json for %s", async (_, body) => {
    await expectError(await chorus.post(body), 400, "invalid_json");
  });

  it.each([
    ["a missing message", { message_id: "a" }, "message"],
    ["a number as message", { message: 42, message_id: "a" }, "message"],
    ["a blank message", { message: " \n\t ", message_id: "a" }, "message"],
    ["a message over MAX_MESSAGE_CHARS", { message: "x".repeat(11), message_id: "a" }, "message"],
    ["a missing message_id", { message: "hi" }, "message_id"],
    ["an empty message_id", { message: "hi", message_id: "" }, "message_id"],
    ["a message_id with spaces", { message: "hi", message_id: "a b" }, "message_id"],
    ["a message_id over 128 characters", { message: "hi", message_id: "a".repeat(129) }, "message_id"],
    ["an unknown agent", { ...valid, agents: ["nobody"] }, "agents.0"],
    ["an empty agents list", { ...valid, agents: [] }, "agents"],
    ["a repeated agent", { ...valid, agents: ["critic", "critic"] }, "agents"],
    ["a non-boolean stream_agents", { ...valid, stream_agents: "yes" }, "stream_agents"],
    ["a bad conversation_id", { ...valid, conversation_id: "no/slash" }, "conversation_id"],
    ["an array body", [valid], "(body)"],
    ["null", null, "(body)"],
  ])("invalid_request for %s, naming the field", async (_, body, field) => {
    const err = await expectError(await chorus.post(body), 400, "invalid_request");
    expect(err.details.map((d: { field: string }) => d.field)).toContain(field);
    expect(err.message.startsWith(field)).toBe(true);
  });

  it("counts code points, not UTF-16 units: ten emoji fit in MAX_MESSAGE_CHARS=10", async () => {
    const ok = await chorus.post({ message: "🙂".repeat(10), message_id: "emoji-ok" });
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
    await expectError(await chorus.post({ message: "🙂".repeat(11), message_id: "emoji-no" }), 400, "invalid_request");
  });

  it("accepts every allowed message_id character and a 128-character id", async () => {
    for (const message_id of ["A-z_0.9:x", "a".repeat(128)]) {
      const res = await chorus.post({ message: "hi", message_id });
      expect(res.status).toBe(200);
      await res.text();
    }
  });

  it("413 payload_too_large for a body over MAX_BODY_BYTES, with or without Content-Length", async () => {
    await expectError(await chorus.post({ message: "x".repeat(5000), message_id: "big" }), 413, "payload_too_large");
    const chunked = await fetch(`${chorus.url}/api/process`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(JSON.stringify({ message: "y".repeat(4000), message_id: "big2" })));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    await expectError(chunked, 413, "payload_too_large");
  });

  it("415 unsupported_media_type without Content-Type or with another type; a charset is fine", async () => {
    const send = (type?: string) =>
      fetch(`${chorus.url}/api/process`, { method: "POST", headers: type ? { "content-type": type } : {}, body: JSON.stringify(valid) });
    await expectError(await send(), 415, "unsupported_media_type");
    await expectError(await send("text/plain"), 415, "unsupported_media_type");
    await expectError(await send("application/jsonx"), 415, "unsupported_media_type");
    const ok = await send("application/json; charset=utf-8");
    expect(ok.status).toBe(200);
    await ok.text();
  });

  it("409 message_id_conflict for the same id with another message while in flight", async () => {
    const first = await chorus.post({ message: "q one", message_id: "dup-1", agents: ["critic"] });
    expect(first.status).toBe(200);
    await expectError(await chorus.post({ message: "q two", message_id: "dup-1" }), 409, "message_id_conflict");
    await first.text();
  });

  it("405 method_not_allowed with an Allow header for a known path asked with another method", async () => {
    const cases: [string, string, string][] = [
      ["GET", "/api/process", "POST"],
      ["PUT", "/api/process/m-1/events", "GET, HEAD"],
      ["POST", "/health", "GET, HEAD"],
      ["DELETE", "/docs", "GET, HEAD"],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(`${chorus.url}${path}`, { method });
      expect(res.headers.get("allow"), `${method} ${path}`).toBe(allow);
      const err = await expectError(res, 405, "method_not_allowed");
      expect(err.message).toBe(`${path} takes ${allow}, not ${method}`);
    }
    // The OpenAI surface says the same in OpenAI's error shape.
    const v1 = await fetch(`${chorus.url}/v1/chat/completions`);
    expect(v1.status).toBe(405);
    expect(v1.headers.get("allow")).toBe("POST");
    expect(await v1.json()).toMatchObject({ error: { code: "method_not_allowed", type: "invalid_request_error" } });
  });

  it("names a bad Last-Event-ID header as the header, and a bad last_event_id as the query field", async () => {
    const header = await expectError(await fetch(`${chorus.url}/api/process/m-1/events`, { headers: { "last-event-id": "abc" } }), 400, "invalid_request");
    expect(header.message).toMatch(/^Last-Event-ID: must be a non-negative integer/);
    expect(header.details).toEqual([{ field: "Last-Event-ID", in: "header", message: expect.stringMatching(/non-negative integer/) }]);
    const query = await expectError(await fetch(`${chorus.url}/api/process/m-1/events?last_event_id=-1`), 400, "invalid_request");
    expect(query.details).toEqual([{ field: "last_event_id", in: "query", message: expect.stringMatching(/non-negative integer/) }]);
  });

  it("answers unknown routes with a JSON 404 and stays healthy after all of the above", async () => {
    await expectError(await fetch(`${chorus.url}/nope`), 404, "not_found");
    const health = await fetch(`${chorus.url}/health`);
    expect(await health.json()).toEqual({ status: "ok" });
  });
});
