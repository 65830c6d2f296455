// The built-in mock LLM (USE_LLM_MOCK=true): deterministic text that depends on the caller and
// the message, streamed word by word, with failure injection for watching partial failures.
import { setTimeout as sleep } from "node:timers/promises";
import { CallError } from "../errors.js";
import type { ChatChunk, ChatRequest, LlmClient } from "./llm-client.js";
import { failsByName, mockRoleAnswer } from "./mock-roles.js";

export interface MockClientOptions {
  tokenDelayMs: number;
  /** Callers (agent names) that always fail. */
  failCallers: string[];
  /** Probability in [0,1] that any call fails. */
  failureRate: number;
  random?: () => number;
}

const OPENERS = [
  "Here is how I see it:",
  "Short answer first:",
  "Looking at this carefully,",
  "From my angle,",
  "The key point is this:",
];
const BODIES = [
  "the question has a simple core and a few subtleties worth naming",
  "there are two parts to untangle, and the second matters more",
  "the usual explanation works, with one caveat people often miss",
  "an everyday example makes it click faster than a definition",
  "the answer depends on what you want to do with it next",
];

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function lastUserMessage(req: ChatRequest): string {
  for (let i = req.messages.length - 1; i >= 0; i--) {
    if (req.messages[i]!.role === "user") return req.messages[i]!.content;
  }
  return "";
}

/** The text the mock answers for a request: a pure function of caller and message. */
export function mockAnswer(req: ChatRequest): string {
  const message = lastUserMessage(req);
  const role = mockRoleAnswer(req, message); // reviewers and the judge
  if (role !== undefined) return role;
  const h = hash(`${req.caller}\u0000${message}`);
  // The summarizer's user message quotes the question under "## Question".
  const question = /^## Question\n\n([\s\S]*?)\n\n## /.exec(message)?.[1] ?? message;
  const topic = question.replace(/\s+/g, " ").trim().slice(0, 60);
  if (req.caller === "eval-judge") return mockVerdict(message);
  if (req.caller === "summarizer") {
    const answered = [...message.matchAll(/^### (\S+) \(answered\)/gm)].map((m) => m[1]);
    return `Combining the views of ${answered.join(", ") || "no agent"}: ${BODIES[h % BODIES.length]}. In one line, on "${topic}": start simple, then add the detail that matters.`;
  }
  return `${OPENERS[h % OPENERS.length]} as the ${req.caller} on "${topic}", ${BODIES[(h >>> 8) % BODIES.length]}.`;
}

/**
 * The eval judge (`chorus eval`): prefers the more complete answer, read as the one with more
 * distinct words; within 5 % of each other it is a tie. Deterministic and blind to position.
 */
function mockVerdict(message: string): string {
  const answer = (label: string) => new RegExp(`<answer label="${label}">\\n([\\s\\S]*?)\\n</answer>`).exec(message)?.[1] ?? "";
  const words = (text: string) => new Set(text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []).size;
  const a = words(answer("A"));
  const b = words(answer("B"));
  const verdict = Math.abs(a - b) <= 0.05 * Math.max(a, b) ? "TIE" : a > b ? "A" : "B";
  return `Answer A covers ${a} distinct words, answer B ${b}; the mock judge prefers the more complete one.\nVERDICT: ${verdict}`;
}

export function createMockClient(opts: MockClientOptions): LlmClient {
  const random = opts.random ?? Math.random;
  return {
    async *stream(req: ChatRequest): AsyncGenerator<ChatChunk> {
      const words = mockAnswer(req).split(/(?<= )/);
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
    },
  };
}
