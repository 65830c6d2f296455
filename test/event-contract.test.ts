// The suite's contract check on streams (readSse validates every run event it reads against
// src/run/events.ts): a stream that breaks the contract fails the test that reads it.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSse } from "./support/sse-client.js";

const STREAMS: Record<string, string> = {
  "/good": 'id: 1\nevent: start\ndata: {"message_id":"m","agents":["a"]}\n\nid: 2\nevent: error\ndata: {"code":"cancelled","message":"stopped"}\n\n',
  "/unknown-event": 'id: 1\nevent: start\ndata: {"message_id":"m","agents":["a"]}\n\nid: 2\nevent: surprise\ndata: {}\n\n',
  "/bad-payload": 'id: 1\nevent: done\ndata: {"message_id":"m","status":"fine","agents":{"ok":1,"failed":0},"summary":"s","latency_ms":3}\n\n',
  "/unknown-code": 'id: 1\nevent: error\ndata: {"code":"oops","message":"?"}\n\n',
  "/openai": 'data: {"choices":[]}\n\ndata: [DONE]\n\n',
};

let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.end(STREAMS[req.url!] ?? "");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("the contract check on every stream the suite reads", () => {
  it("passes a stream of valid run events, and data-only OpenAI chunks", async () => {
    expect((await readSse(`${url}/good`)).events.map((e) => e.event)).toEqual(["start", "error"]);
    expect((await readSse(`${url}/openai`)).events).toHaveLength(2);
  });

  it("fails on an event the contract does not name, a wrong payload, or an unlisted error code", async () => {
    await expect(readSse(`${url}/unknown-event`)).rejects.toThrow('event 2 "surprise" breaks the run\'s contract: unknown event "surprise"');
    await expect(readSse(`${url}/bad-payload`)).rejects.toThrow(/event 1 "done" breaks the run's contract: .*"path":\["status"\]/);
    await expect(readSse(`${url}/unknown-code`)).rejects.toThrow(/"path":\["code"\]/);
  });

  it("reads an odd stream as it is when asked for raw", async () => {
    expect((await readSse(`${url}/unknown-event`, undefined, { raw: true })).events.map((e) => e.event)).toEqual(["start", "surprise"]);
  });
});
