// Token accounting for one upstream call and for a whole run. A call is counted from what was
// received: the upstream's own figure when it sent one, else an estimate (about 4 characters a
// token, of the prompt and of the text received) marked `estimated: true`, so that a cancelled
// run or an upstream that died mid-stream still shows what it cost.
import type { ChatMessage, CountedUsage, Usage } from "../llm/llm-client.js";

const CHARS_PER_TOKEN = 4;
const tokens = (chars: number) => Math.ceil(chars / CHARS_PER_TOKEN);

/**
 * The usage to count for one call. Nothing is estimated before the first token arrives: an
 * upstream that failed or was cut before answering may not have billed the prompt either.
 */
export function countUsage(messages: ChatMessage[], received: string, upstream: Usage | undefined): CountedUsage | undefined {
  if (upstream) return upstream;
  if (!received) return undefined;
  const prompt_tokens = messages.reduce((n, m) => n + tokens(m.content.length), 0);
  const completion_tokens = tokens(received.length);
  return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens, estimated: true };
}

/** The sum of two usages; an estimate anywhere makes the sum an estimate. */
export function addUsage(a: CountedUsage | undefined, b: CountedUsage | undefined): CountedUsage | undefined {
  if (!b) return a;
  if (!a) return { prompt_tokens: b.prompt_tokens, completion_tokens: b.completion_tokens, total_tokens: b.total_tokens, ...(b.estimated ? { estimated: true } : {}) };
  return {
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
    ...(a.estimated || b.estimated ? { estimated: true } : {}),
  };
}
