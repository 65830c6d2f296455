// Bounded memory per run, whatever the upstream sends and however slowly the client reads:
// a client that reads nothing while two upstreams flood 32 KiB tokens, against a real Chorus
// process whose resident memory is sampled throughout.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chorusProcess, type ChorusProcess } from "./support/chorus-process.js";
import { callerOf, startMockUpstream, type MockUpstream } from "./support/mock-upstream.js";
import { last, ofType, readSse } from "./support/sse-client.js";

const MB = 1024 * 1024;
const TOKEN = "x".repeat(32 * 1024);
/** What the flood may add to the server's RSS: the two floods are cut at MAX_OUTPUT_CHARS (3 M each). */
const RSS_BOUND = 100 * MB;

let upstream: MockUpstream;
let chorus: ChorusProcess;
beforeAll(async () => {
  upstream = await startMockUpstream();
  chorus = await chorusProcess({
    USE_LLM_MOCK: "false",
    LLM_BASE_URL: upstream.url,
    LLM_KEY: "sk-flood",
    LLM_MAX_RETRIES: "0",
    MAX_OUTPUT_CHARS: "3000000",
    SSE_WRITE_TIMEOUT_MS: "1000",
  });
});
afterAll(async () => {
  await chorus.kill();
  await upstream.close();
});

describe("a client that reads nothing while two upstreams flood", () => {
  it("keeps the server's memory bounded, aborts the floods at MAX_OUTPUT_CHARS, and closes the connection", { timeout: 60_000 }, async () => {
    // Warm up (JIT, SDK, sockets), then take the baseline.
    expect(last(await readSse(`${chorus.url}/api/process`, { message: "warm up", message_id: "warm" })).event).toBe("done");
    const baseline = chorus.rss();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, chorus.rss())), 25);

    upstream.setPlanner((b) => (["analyst", "critic"].includes(callerOf(b)) ? { tokens: Array.from({ length: 100_000 }, () => TOKEN), tokenDelayMs: 1 } : {}));
    upstream.calls.length = 0;
    const sock = connect(Number(new URL(chorus.url).port), "127.0.0.1");
    sock.pause(); // never reads
    sock.on("error", () => {});
    let closedAt: number | undefined;
    sock.once("close", () => (closedAt = performance.now()));
    const body = JSON.stringify({ message: "flood", message_id: "flood-1", stream_agents: true });
    const t0 = performance.now();
    sock.write(`POST /api/process HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);

    const floods = () => upstream.calls.filter((c) => ["analyst", "critic"].includes(callerOf(c.body)));
    await expect.poll(() => floods().length === 2 && floods().every((c) => c.closedAt !== undefined), { timeout: 20_000 }).toBe(true);
    const replay = await readSse(`${chorus.url}/api/process/flood-1/events`);
    clearInterval(sampler);
    // A paused socket reports its end only once read: read what the server managed to send.
    let received = "";
    sock.on("data", (d) => (received += d));
    sock.resume();
    await expect.poll(() => closedAt, { timeout: 10_000 }).toBeDefined();
    expect(chorus.alive, chorus.output()).toBe(true);
    // Loopback socket buffers (up to 32 MB here) may take the whole stream: then the response
    // ended and the idle keep-alive connection was closed; otherwise SSE_WRITE_TIMEOUT_MS cut it.
    expect(received).toContain("event: agent_delta");
    const cut = !received.includes("event: done");
    console.log(`flood: RSS baseline ${(baseline / MB).toFixed(0)} MB, peak +${((peak - baseline) / MB).toFixed(1)} MB; connection closed after ${Math.round(closedAt! - t0)} ms (${cut ? "cut by SSE_WRITE_TIMEOUT_MS" : "stream complete, idle keep-alive closed"})`);
    peak = Math.max(peak, chorus.rss());

    expect(floods().every((c) => c.aborted)).toBe(true);
    expect(ofType(replay, "agent_error").map((e) => [e.data.agent, e.data.error.code]).sort()).toEqual([
      ["analyst", "bad_response"],
      ["critic", "bad_response"],
    ]);
    // The run itself goes on (within the orphan grace) and ends with the third agent's answer.
    expect(last(replay)).toMatchObject({ event: "done", data: { status: "partial" } });
    expect(ofType(replay, "agent_delta")).toHaveLength(0); // folded once each agent ended
    expect(peak - baseline).toBeLessThan(RSS_BOUND);
  });
});
