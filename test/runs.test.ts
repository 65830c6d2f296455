// Runs as replayable event logs: resume from any Last-Event-ID, duplicate POSTs follow the same
// run, DELETE cancels, and shutdown ends open streams cleanly. Built-in mock LLM.
import { afterEach, describe, expect, it } from "vitest";
import { last, ofType, readSse } from "./support/sse-client.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

let chorus: TestChorus | undefined;
afterEach(async () => {
  await chorus?.close();
  chorus = undefined;
});

describe("resuming and de-duplication", () => {
  it("replays the events after every possible Last-Event-ID, header or query", async () => {
    chorus = await startChorus();
    const full = await readSse(`${chorus.url}/api/process`, { message: "Why is the sky blue?", message_id: "r-1" });
    expect(last(full).event).toBe("done");
    const n = full.events.length;
    for (let after = 0; after <= n; after++) {
      const viaHeader = await readSse(`${chorus.url}/api/process/r-1/events`, undefined, { headers: { "last-event-id": String(after) } });
      expect(viaHeader.events.map((e) => e.id)).toEqual(full.events.slice(after).map((e) => e.id));
    }
    const viaQuery = await readSse(`${chorus.url}/api/process/r-1/events?last_event_id=${n - 2}`);
    expect(viaQuery.events.map((e) => e.data)).toEqual(full.events.slice(n - 2).map((e) => e.data));
    // The header wins over the query.
    const both = await readSse(`${chorus.url}/api/process/r-1/events?last_event_id=0`, undefined, { headers: { "last-event-id": String(n - 1) } });
    expect(both.events).toHaveLength(1);
  });

  it("refuses a bad Last-Event-ID and an unknown run", async () => {
    chorus = await startChorus();
    const bad = await fetch(`${chorus.url}/api/process/x/events`, { headers: { "last-event-id": "-1" } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe("invalid_request");
    const unknown = await fetch(`${chorus.url}/api/process/nope/events`);
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.code).toBe("run_not_found");
  });

  it("lets a duplicate POST follow the run in flight from its first event, with no second set of calls", async () => {
    chorus = await startChorus({ MOCK_TOKEN_DELAY_MS: "15" });
    const body = { message: "Same question", message_id: "dup" };
    const [a, b] = await Promise.all([readSse(`${chorus.url}/api/process`, body), readSse(`${chorus.url}/api/process`, body)]);
    expect(b.events.map((e) => e.data)).toEqual(a.events.map((e) => e.data));
    expect(ofType(a, "start")).toHaveLength(1);
    expect(chorus.logs.filter((l) => l.msg === "run finished" && l.message_id === "dup")).toHaveLength(1);
    // After the run ended, the same id starts a new run.
    const again = await readSse(`${chorus.url}/api/process`, body);
    expect(last(again).event).toBe("done");
    expect(chorus.logs.filter((l) => l.msg === "run finished" && l.message_id === "dup")).toHaveLength(2);
  });

  it("DELETE cancels a run in flight (202), then 409 run_finished, and 404 for unknown ids", async () => {
    chorus = await startChorus({ MOCK_TOKEN_DELAY_MS: "50" });
    const reading = readSse(`${chorus.url}/api/process`, { message: "slow", message_id: "del-1" });
    await new Promise((r) => setTimeout(r, 100));
    const del = await fetch(`${chorus.url}/api/process/del-1`, { method: "DELETE" });
    expect(del.status).toBe(202);
    const r = await reading;
    expect(last(r)).toMatchObject({ event: "error", data: { code: "cancelled" } });
    expect(ofType(r, "agent_error").every((e) => e.data.status === "cancelled")).toBe(true);
    expect((await fetch(`${chorus.url}/api/process/del-1`, { method: "DELETE" })).status).toBe(409);
    expect((await fetch(`${chorus.url}/api/process/zzz`, { method: "DELETE" })).status).toBe(404);
  });

  it("keeps a run going for a client that reconnects within RUN_ORPHAN_GRACE_MS", async () => {
    chorus = await startChorus({ MOCK_TOKEN_DELAY_MS: "20", RUN_ORPHAN_GRACE_MS: "2000" });
    const first = await readSse(
      `${chorus.url}/api/process`,
      { message: "reconnect me", message_id: "grace-1" },
      { until: (evs) => evs.some((e) => e.event === "agent_done") },
    );
    const seen = first.events[first.events.length - 1]!.id!;
    const rest = await readSse(`${chorus.url}/api/process/grace-1/events`, undefined, { headers: { "last-event-id": String(seen) } });
    expect(rest.events[0]!.id).toBe(seen + 1);
    expect(last(rest).event).toBe("done");
  });
});

describe("when the client goes away", () => {
  const cutAfterAgent = (url: string, body: object) =>
    readSse(`${url}/api/process`, body, { until: (evs) => evs.some((e) => e.event === "agent_done") });

  it("with the defaults, a client cut mid-run that comes back within the grace gets the rest of the run", async () => {
    chorus = await startChorus({ MOCK_TOKEN_DELAY_MS: "20" }); // RUN_ORPHAN_GRACE_MS and ON_DISCONNECT left at their defaults
    const first = await cutAfterAgent(chorus.url, { message: "resume me", message_id: "def-1" });
    const seen = first.events[first.events.length - 1]!.id!;
    await new Promise((r) => setTimeout(r, 500)); // a reconnect is not instant
    const rest = await readSse(`${chorus.url}/api/process/def-1/events`, undefined, { headers: { "last-event-id": String(seen) } });
    expect(rest.events[0]!.id).toBe(seen + 1);
    expect(ofType(rest, "agent_error")).toHaveLength(0);
    expect(last(rest)).toMatchObject({ event: "done", data: { status: "ok" } });
  });

  it('runs an on_disconnect "continue" run to its end with no client, even with RUN_ORPHAN_GRACE_MS=0', async () => {
    chorus = await startChorus({ MOCK_TOKEN_DELAY_MS: "20", RUN_ORPHAN_GRACE_MS: "0" });
    await cutAfterAgent(chorus.url, { message: "go on", message_id: "cont-1", on_disconnect: "continue" });
    await expect.poll(() => chorus!.chorus.registry.get("cont-1")?.inFlight, { timeout: 10_000 }).toBe(false);
    const replay = await readSse(`${chorus.url}/api/process/cont-1/events`);
    expect(ofType(replay, "agent_done")).toHaveLength(3);
    expect(last(replay)).toMatchObject({ event: "done", data: { status: "ok" } });
  });

  it('cancels an on_disconnect "cancel" run at once with RUN_ORPHAN_GRACE_MS=0, also when ON_DISCONNECT=continue', async () => {
    chorus = await startChorus({ MOCK_TOKEN_DELAY_MS: "20", RUN_ORPHAN_GRACE_MS: "0", ON_DISCONNECT: "continue" });
    await cutAfterAgent(chorus.url, { message: "stop", message_id: "canc-1", on_disconnect: "cancel" });
    await cutAfterAgent(chorus.url, { message: "default", message_id: "canc-2" });
    await expect.poll(() => chorus!.chorus.registry.inFlight, { timeout: 10_000 }).toBe(0);
    expect(last(await readSse(`${chorus.url}/api/process/canc-1/events`))).toMatchObject({ event: "error", data: { code: "cancelled" } });
    expect(last(await readSse(`${chorus.url}/api/process/canc-2/events`))).toMatchObject({ event: "done" });
  });

  it("refuses an on_disconnect that is neither cancel nor continue", async () => {
    chorus = await startChorus();
    const res = await chorus.post({ message: "x", message_id: "od-bad", on_disconnect: "later" });
    expect(res.status).toBe(400);
    expect((await res.json()).error.details.map((d: { field: string }) => d.field)).toEqual(["on_disconnect"]);
  });
});

describe("the log of a finished agent", () => {
  it("keeps its output, not its tokens: a late resumer gets agent_done whole, with ids still increasing", async () => {
    chorus = await startChorus({ MOCK_TOKEN_DELAY_MS: "2" });
    const live = await readSse(`${chorus.url}/api/process`, { message: "tokens", message_id: "fold-1", stream_agents: true });
    const deltas = ofType(live, "agent_delta");
    expect(deltas.length).toBeGreaterThan(3);
    const replay = await readSse(`${chorus.url}/api/process/fold-1/events`);
    expect(ofType(replay, "agent_delta")).toHaveLength(0);
    for (const done of ofType(replay, "agent_done")) {
      const text = deltas.filter((d) => d.data.agent === done.data.agent).map((d) => d.data.delta).join("");
      expect(done.data.output).toBe(text);
    }
    const ids = replay.events.map((e) => e.id!);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
    expect(last(replay)).toEqual({ ...last(live), at: last(replay).at });
  });
});

describe("built-in mock LLM", () => {
  it("answers deterministically per agent and message, and fails the agents in MOCK_FAIL_AGENTS", async () => {
    chorus = await startChorus({ MOCK_FAIL_AGENTS: "critic" });
    const a = await readSse(`${chorus.url}/api/process`, { message: "Tell me about tides", message_id: "mock-1" });
    const b = await readSse(`${chorus.url}/api/process`, { message: "Tell me about tides", message_id: "mock-2" });
    const outputs = (r: typeof a) => ofType(r, "agent_done").map((e) => [e.data.agent, e.data.output]).sort();
    expect(outputs(a)).toEqual(outputs(b));
    expect(new Set(outputs(a).map((o) => o[1])).size).toBe(2);
    expect(ofType(a, "agent_error")[0]!.data).toMatchObject({ agent: "critic", error: { code: "upstream_error" } });
    expect(last(a).data.status).toBe("partial");
    expect(last(a).data.summary).toContain("analyst and explainer (critic failed");
  });
});

describe("graceful shutdown", () => {
  it("refuses new work with 503, lets runs finish within the grace, ends the rest with shutting_down", async () => {
    chorus = await startChorus({ MOCK_TOKEN_DELAY_MS: "40" });
    const quick = await startChorus({ MOCK_TOKEN_DELAY_MS: "1" });
    try {
      // A long run on `chorus` is cut by a short grace.
      const reading = readSse(`${chorus.url}/api/process`, { message: "long", message_id: "sd-1" });
      await new Promise((r) => setTimeout(r, 150));
      const stopping = chorus.shutdown(200);
      const refused = await fetch(`${chorus.url}/ready`).catch(() => null);
      if (refused) expect(refused.status).toBe(503);
      const r = await reading;
      expect(last(r)).toMatchObject({ event: "error", data: { code: "shutting_down" } });
      await stopping;
      // A run on `quick` finishes inside a generous grace.
      const reading2 = readSse(`${quick.url}/api/process`, { message: "short", message_id: "sd-2" });
      await new Promise((r) => setTimeout(r, 20));
      const stopping2 = quick.shutdown(5000);
      expect(last(await reading2).event).toBe("done");
      await stopping2;
    } finally {
      chorus = undefined;
    }
  });
});
