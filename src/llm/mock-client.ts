// The built-in mock LLM (USE_LLM_MOCK=true): the text of mock-text.ts (about the question, per
// caller, aware of earlier turns), streamed word by word, with failure injection for watching partial failures.
import { setTimeout as sleep } from "node:timers/promises";
import { CallError } from "../errors.js";
import { pushEach, type ChatChunk, type ChatRequest, type LlmClient } from "./llm-client.js";
import { failsByName, mockRoleAnswer } from "./mock-roles.js";
import { mockText } from "./mock-text.js";

export interface MockClientOptions {
  tokenDelayMs: number;
  /** Callers (agent names) that always fail. */
  failCallers: string[];
  /** Probability in [0,1] that any call fails. */
  failureRate: number;
  random?: () => number;
}

/** The text the mock answers for a request: reviewers and the judge by their role, everyone else by persona. */
export function mockAnswer(req: ChatRequest): string {
  const message = req.messages.filter((m) => m.role === "user").at(-1)?.content ?? "";
  return mockRoleAnswer(req, message) ?? mockText(req);
}

export function createMockClient(opts: MockClientOptions): LlmClient {
  const random = opts.random ?? Math.random;
  async function* answer(req: ChatRequest): AsyncGenerator<ChatChunk> {
    const words = mockAnswer(req).split(/(?<=\s)/);
    const fail = failsByName(opts.failCallers, req.caller) || random() < opts.failureRate;
    try {
      await sleep(opts.tokenDelayMs, undefined, { signal: req.signal });
      if (fail) throw new CallError("upstream_error", "mock LLM failure (injected)");
      for (const w of words) {
        yield { type: "delta", text: w };
        await sleep(opts.tokenDelayMs, undefined, { signal: req.signal });
      }
    } catch (err) {
      if (req.signal.aborted) throw req.signal.reason;
      throw err;
    }
    const prompt = req.messages.reduce((n, m) => n + Math.ceil(m.content.length / 4), 0);
    yield { type: "usage", usage: { prompt_tokens: prompt, completion_tokens: words.length, total_tokens: prompt + words.length } };
  }
  return { stream: (req, onChunk) => pushEach(answer(req), onChunk) };
}
