// The mock LLM's later-stage roles, keyed on the caller: a council reviewer (`review:<agent>`)
// answers with a valid FINAL RANKING: block, the fusion judge (`judge`) with a valid analysis
// JSON object drawn from the agents' answers, `chorus eval`'s judge (`eval-judge`) with a
// VERDICT line. All are pure functions of the request, so a run is deterministic; fault
// injection is mock-client.ts's, by caller name.
import type { ChatRequest } from "./llm-client.js";

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The `### label` sections of a stage message, with the text between their markers. */
function sections(message: string): { label: string; text: string }[] {
  return [...message.matchAll(/^### (.+)\n\n<<<BEGIN \1>>>\n([\s\S]*?)\n<<<END \1>>>/gm)].map((m) => ({ label: m[1]!, text: m[2]! }));
}

const questionOf = (message: string) => /<<<BEGIN QUESTION>>>\n([\s\S]*?)\n<<<END QUESTION>>>/.exec(message)?.[1]?.replace(/\s+/g, " ").trim().slice(0, 60) ?? "the question";

/** A telling word of an answer: its longest word, lower-cased. */
function term(text: string): string {
  const words = text.toLowerCase().match(/[a-z][a-z-]{3,}/g) ?? ["nothing"];
  return words.reduce((a, b) => (b.length > a.length ? b : a));
}

function firstSentence(text: string): string {
  const s = text.replace(/\s+/g, " ").trim();
  const m = /^.{1,160}?[.!?](\s|$)/.exec(s);
  return (m ? m[0] : s.slice(0, 160)).trim();
}

/** Ranks the responses by a hash of their text: every reviewer agrees, so the aggregate is stable. */
function review(message: string): string {
  const shown = sections(message);
  const ranked = [...shown].sort((a, b) => hash(a.text) - hash(b.text) || a.label.localeCompare(b.label));
  const notes = shown.map((s) => `${s.label}: ${s.text.length > 120 ? "thorough" : "brief"}, and it stresses "${term(s.text)}".`);
  return [...notes, "", "FINAL RANKING:", ...ranked.map((s, i) => `${i + 1}. ${s.label}`)].join("\n");
}

/** An analysis that names every agent and a term of its answer, in a code fence as models often send it. */
function judge(message: string): string {
  const answers = sections(message).filter((s) => s.label !== "QUESTION");
  const topic = questionOf(message);
  const analysis = {
    consensus: [`All ${answers.length} answers address "${topic}" directly.`],
    contradictions:
      answers.length >= 2
        ? [{ topic: `What matters most about "${topic}"`, positions: answers.map((a) => ({ agent: a.label, stance: `Stresses "${term(a.text)}": ${firstSentence(a.text)}` })) }]
        : [],
    unique_insights: answers.map((a) => ({ agent: a.label, insight: `Only ${a.label} brings up "${term(a.text)}".` })),
    blind_spots: ["None of the answers cites a source the user could check."],
  };
  return `Here is my analysis.\n\n\`\`\`json\n${JSON.stringify(analysis, null, 2)}\n\`\`\``;
}

/**
 * The eval's pairwise verdict: the more complete answer wins, read as more distinct words,
 * weighed by a taste of ±40 % drawn from a hash of the answer (so a slightly longer answer does
 * not always win, as with a real judge); within 5 % it is a tie. It depends on the answers'
 * texts, never on their positions.
 */
function evalVerdict(message: string): string {
  const answer = (label: string) => new RegExp(`<answer label="${label}">\\n([\\s\\S]*?)\\n</answer>`).exec(message)?.[1] ?? "";
  const score = (text: string) => new Set(text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []).size * (0.6 + (hash(text) % 1000) / 1250);
  const [a, b] = [score(answer("A")), score(answer("B"))];
  const verdict = Math.abs(a - b) <= 0.05 * Math.max(a, b) ? "TIE" : a > b ? "A" : "B";
  return `Answer A scores ${a.toFixed(1)} for completeness, answer B ${b.toFixed(1)}; the mock judge prefers the higher.\nVERDICT: ${verdict}`;
}

/** The reply of a later-stage role, or undefined for an agent or the summarizer. */
export function mockRoleAnswer(req: ChatRequest, message: string): string | undefined {
  if (req.caller.startsWith("review:")) return review(message);
  if (req.caller === "judge") return judge(message);
  if (req.caller === "eval-judge") return evalVerdict(message);
  return undefined;
}

/** MOCK_FAIL_AGENTS names callers; `review` also names every reviewer. */
export const failsByName = (failCallers: string[], caller: string) =>
  failCallers.includes(caller) || (caller.startsWith("review:") && failCallers.includes("review"));
