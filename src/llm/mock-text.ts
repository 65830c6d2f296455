// What the built-in mock LLM says: short text that names the question's key terms, speaks as the
// calling persona (one writer per caller role), mentions earlier turns of the conversation, and
// says plainly that it is mock output. A pure function of the request, so runs are reproducible.
import type { ChatMessage, ChatRequest } from "./llm-client.js";

/** What a writer knows about one call. */
export interface MockContext {
  caller: string;
  /** The user's question (for the summarizer: the one quoted under "## Question"). */
  question: string;
  /** Up to three content words of the question, in order of appearance. */
  terms: string[];
  /** Key terms of the previous user turn, if the conversation has one. */
  earlier?: { turns: number; terms: string[] };
  /** The user message as sent (the summarizer's lists the agents' answers). */
  message: string;
  /** A stable number from the request, to vary phrasing between questions. */
  seed: number;
}

export type MockWriter = (ctx: MockContext) => string;

/** Tells a new user what they are looking at and how to get real answers. */
export const MOCK_FOOTER = "(Mock output: set USE_LLM_MOCK=false and LLM_KEY in .env for real answers.)";

const STOPWORDS = new Set(
  ("a an and are as at be been but by can could did do does explain for from had has have how i if in into is it its " +
    "just like me my no not of on or our please say so some tell than that the their them then there these they this " +
    "to too us was we were what when where which who whom why will with would you your am give show describe about " +
    "also more most much many very should shall may might must let lets let's simple simply really thing things")
    .split(" "),
);

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Up to `n` content words: letters or digits, 3+ characters, no stopwords, each once. */
export function keyTerms(text: string, n = 3): string[] {
  const seen: string[] = [];
  for (const m of text.toLowerCase().matchAll(/[\p{L}\p{N}][\p{L}\p{N}'-]*/gu)) {
    const w = m[0].replace(/['-]+$/, "");
    if (w.length < 3 || STOPWORDS.has(w) || /^\d+$/.test(w) || seen.includes(w)) continue;
    seen.push(w);
    if (seen.length === n) break;
  }
  return seen;
}

/** "gravity", "sky and blue", "tides, moon and sun". */
const listed = (xs: string[]) => (xs.length < 2 ? (xs[0] ?? "") : `${xs.slice(0, -1).join(", ")} and ${xs.at(-1)}`);
const topicOf = (ctx: MockContext) => (ctx.terms.length ? listed(ctx.terms) : "your question");
const pick = <T>(xs: T[], seed: number) => xs[seed % xs.length]!;
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function continuity(ctx: MockContext): string {
  if (!ctx.earlier) return "";
  const about = ctx.earlier.terms.length ? ` about ${listed(ctx.earlier.terms)}` : "";
  const turns = ctx.earlier.turns === 1 ? "1 earlier turn" : `${ctx.earlier.turns} earlier turns`;
  return ` Building on your earlier question${about} (${turns} in this conversation).`;
}

const analyst: MockWriter = (ctx) => {
  const [a = "the subject", b = "its context"] = ctx.terms;
  return (
    `[mock] Analyst on ${topicOf(ctx)}:${continuity(ctx)} ${pick(["Three parts", "Taken apart, three pieces"], ctx.seed)}: ` +
    `what ${a} is, how ${a} connects to ${b}, and what follows from that. ` +
    `A real model would give the facts and the mechanism here, and say where it is unsure.`
  );
};

const critic: MockWriter = (ctx) => {
  const [a = "the subject", b = "the details"] = ctx.terms;
  return (
    `[mock] Critic on ${topicOf(ctx)}:${continuity(ctx)} 1. ${pick(["A quick answer", "The usual answer"], ctx.seed)} ` +
    `oversimplifies ${a}. 2. The question assumes something about ${b} worth checking. ` +
    `3. Mind the edge cases a one-line answer skips.`
  );
};

const explainer: MockWriter = (ctx) => {
  const [a = "this"] = ctx.terms;
  const analogy = pick(["a recipe: the steps only make sense in order", "a map: you need the big picture before the streets", "a game: learn the rules first, then the tricks"], ctx.seed >>> 4);
  return `[mock] Explainer on ${topicOf(ctx)}:${continuity(ctx)} in plain words, think of ${a} like ${analogy}. A real model would pick an everyday example at the level you asked for.`;
};

/** What each known agent contributes, as the summary retells it. */
const CONTRIBUTION: Record<string, string> = {
  analyst: "the analyst splits it into parts",
  critic: "the critic flags what a quick answer gets wrong",
  explainer: "the explainer offers an everyday analogy",
};

const summarizer: MockWriter = (ctx) => {
  const answered = [...ctx.message.matchAll(/^### (\S+) \(answered\)/gm)].map((m) => m[1]!);
  const failed = [...ctx.message.matchAll(/^- (\S+): \S+$/gm)].map((m) => m[1]!);
  const used = answered.length ? `Combining the views of ${listed(answered)}` : "No agent answered";
  const missing = failed.length ? ` (${listed(failed)} failed, so that view is missing)` : "";
  const parts = answered.map((a) => CONTRIBUTION[a] ?? `${a} adds its own view`);
  const body = parts.length ? ` On ${topicOf(ctx)}: ${parts.join("; ")}.` : "";
  return `[mock] ${used}${missing}.${continuity(ctx)}${body} ${cap(pick(["together they", "between them they"], ctx.seed))} sketch the shape of a real answer.\n\n${MOCK_FOOTER}`;
};

/** Any other caller (an agent from another prompts folder, a later stage such as a reviewer). */
const generic: MockWriter = (ctx) =>
  `[mock] ${cap(ctx.caller)} on ${topicOf(ctx)}:${continuity(ctx)} a real model would answer here in the ${ctx.caller}'s role.`;

/** The writer per caller role; a new stage (e.g. "reviewer", "judge") adds its own entry. */
export const MOCK_WRITERS: Record<string, MockWriter> = { analyst, critic, explainer, summarizer };

function lastUserIndex(messages: ChatMessage[]): number {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === "user") return i;
  return -1;
}

/** The context of a call: its question and key terms, and the conversation before it. */
export function mockContext(req: ChatRequest): MockContext {
  const last = lastUserIndex(req.messages);
  const message = last >= 0 ? req.messages[last]!.content : "";
  // The summarizer's user message quotes the question under "## Question".
  const question = /^## Question\n\n([\s\S]*?)\n\n## /.exec(message)?.[1] ?? message;
  const earlierUser = req.messages.slice(0, Math.max(last, 0)).filter((m) => m.role === "user");
  const previous = earlierUser.at(-1);
  return {
    caller: req.caller,
    question,
    terms: keyTerms(question),
    ...(previous ? { earlier: { turns: earlierUser.length, terms: keyTerms(previous.content) } } : {}),
    message,
    seed: hash(`${req.caller}\u0000${question}`),
  };
}

/** The text the mock answers for a request. */
export function mockText(req: ChatRequest): string {
  const ctx = mockContext(req);
  return (MOCK_WRITERS[req.caller] ?? generic)(ctx);
}
