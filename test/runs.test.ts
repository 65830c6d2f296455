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
