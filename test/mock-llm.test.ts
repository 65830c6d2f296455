// The built-in mock LLM as a first-time user meets it (USE_LLM_MOCK=true, a real listening
// Chorus): answers about the question's key terms, a different voice per agent and for the
// summary, follow-ups that mention the earlier turn, the same text for the same question, and a
// clear mark that it is mock output with the way to a real model.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { last, readSse, type SseRead } from "./support/sse-client.js";
import { startChorus, type TestChorus } from "./support/start-chorus.js";

let chorus: TestChorus;
beforeAll(async () => {
  chorus = await startChorus();
});
afterAll(() => chorus.close());

let seq = 0;
const ask = (message: string, extra: object = {}) =>
  readSse(`${chorus.url}/api/process`, { message, message_id: `mock-${++seq}`, ...extra });
const outputs = (r: SseRead) =>
  Object.fromEntries(r.events.filter((e) => e.event === "agent_done").map((e) => [e.data.agent as string, e.data.output as string]));

describe("the mock LLM", () => {
  it("answers about the question's key terms, in each agent's own voice, and marks the summary as mock", async () => {
    const r = await ask("Why do tides follow the moon?");
    const out = outputs(r);
    expect(Object.keys(out).sort()).toEqual(["analyst", "critic", "explainer"]);
    for (const [agent, text] of Object.entries(out)) {
      expect(text).toMatch(new RegExp(`^\\[mock\\] ${agent[0]!.toUpperCase()}${agent.slice(1)} on tides, follow and moon:`));
    }
    expect(new Set(Object.values(out)).size).toBe(3);
    expect(out.critic).toMatch(/1\. .* 2\. .* 3\. /); // the critic lists points
    expect(out.explainer).toContain("think of tides like");

    const summary = last(r).data.summary as string;
    expect(summary).toMatch(/^\[mock\] Combining the views of analyst, critic and explainer\. On tides, follow and moon: /);
    expect(summary.endsWith("(Mock output: set USE_LLM_MOCK=false and LLM_KEY in .env for real answers.)")).toBe(true);
  });

  it("gives the same text for the same question, and other text for another question", async () => {
    const [a, b, c] = [await ask("Explain gravity like I am 5"), await ask("Explain gravity like I am 5"), await ask("How do vaccines train immunity?")];
    expect(last(b).data.summary).toBe(last(a).data.summary);
    expect(outputs(b)).toEqual(outputs(a));
    expect(last(a).data.summary).toContain("On gravity:");
    expect(last(c).data.summary).toContain("On vaccines, train and immunity:");
  });

  it("mentions the earlier turn in a follow-up of a conversation, in every agent and the summary", async () => {
    const first = await ask("Why is the sky blue?", { conversation_id: "mock-conv" });
    expect(last(first).data.summary).not.toContain("earlier question");
    const next = await ask("And what about sunsets?", { conversation_id: "mock-conv" });
    for (const text of [...Object.values(outputs(next)), last(next).data.summary as string]) {
      expect(text).toContain("Building on your earlier question about sky and blue (1 earlier turn in this conversation).");
      expect(text).toContain("sunsets");
    }
  });

  it("names the failed agent in the summary when one fails", async () => {
    const failing = await startChorus({ MOCK_FAIL_AGENTS: "critic" });
    try {
      const r = await readSse(`${failing.url}/api/process`, { message: "Is coffee healthy?", message_id: "mock-fail" });
      expect(last(r).data.summary).toMatch(/^\[mock\] Combining the views of analyst and explainer \(critic failed, so that view is missing\)\. On coffee and healthy: /);
    } finally {
      await failing.close();
    }
  });
});
