// The council's review stage: every agent that answered ranks all the answers, anonymised as
// Response A, B, … in an order of its own, on its own provider and model. Reviews that fail or
// cannot be parsed are tolerated; the parsed ones are aggregated Borda-style, self-votes ignored.
import { CallError } from "../errors.js";
import type { RunContext } from "./context.js";
import type { EventData } from "./events.js";
import { guardedCall } from "./guarded-call.js";
import { since } from "./outcome.js";
import { reviewLabel, reviewUserMessage } from "./stage-messages.js";

export type RankingEntry = EventData<"ranking">["ranking"][number];

/** One parsed review: agent names, best first. */
export interface Review {
  reviewer: string;
  ranking: string[];
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The order reviewer number `index` sees the answers in: one seeded shuffle for the run, rotated
 * by the reviewer's index, so no two reviewers (there are at most as many as answers) share an
 * order, and the same run always shows the same orders.
 */
export function reviewOrder<T>(items: T[], seed: string, index: number): T[] {
  const shuffled = [...items];
  let h = hash(seed);
  for (let i = shuffled.length - 1; i > 0; i--) {
    h = Math.imul(h ^ (h >>> 15), 2246822507) >>> 0;
    const j = h % (i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const k = index % Math.max(1, shuffled.length);
  return [...shuffled.slice(k), ...shuffled.slice(0, k)];
}

/**
 * Reads the `FINAL RANKING:` block: one `N. Response X` line per label, best first, each label
 * once. Returns the labels in order, or undefined when the block is missing or incomplete.
 */
export function parseFinalRanking(reply: string, labels: string[]): string[] | undefined {
  const at = reply.toUpperCase().lastIndexOf("FINAL RANKING:");
  if (at < 0) return undefined;
  const seen: string[] = [];
  // From the line after the header: its own line may end in Markdown (`**FINAL RANKING:**`).
  for (const line of reply.slice(at).split(/\r?\n/).slice(1)) {
    if (!line.trim()) continue;
    const m = /^\s*\d+\s*[.)]\s*\**\s*(Response [A-Z])\b/i.exec(line);
    if (!m) break;
    seen.push(m[1]!.replace(/^response/i, "Response").replace(/[a-z]$/, (c) => c.toUpperCase()));
  }
  const ok = seen.length === labels.length && new Set(seen).size === seen.length && seen.every((l) => labels.includes(l));
  return ok ? seen : undefined;
}

/**
 * Borda-style: in a review of k answers the one at position r (1 = best) earns (k − r)/(k − 1);
 * a reviewer's points for its own answer are ignored; score = mean of the points counted.
 * Ranked by score (ties by name); answers no counted review ranked come last with score null.
 */
export function aggregate(agents: string[], reviews: Review[]): RankingEntry[] {
  const points = new Map(agents.map((a) => [a, [] as number[]]));
  for (const { reviewer, ranking } of reviews) {
    const k = ranking.length;
    ranking.forEach((agent, i) => {
      if (agent === reviewer || k < 2) return;
      points.get(agent)?.push((k - (i + 1)) / (k - 1));
    });
  }
  const entries = agents.map((agent) => {
    const p = points.get(agent)!;
    return { agent, score: p.length ? Math.round((p.reduce((a, b) => a + b, 0) / p.length) * 1e4) / 1e4 : null, reviews: p.length };
  });
  return entries.sort((a, b) => {
    if (a.score === null || b.score === null) return a.score === b.score ? a.agent.localeCompare(b.agent) : a.score === null ? 1 : -1;
    return b.score - a.score || a.agent.localeCompare(b.agent);
  });
}

/** Runs the reviews and emits ranking; undefined when no review could be parsed (no ranking event). */
export async function runReviews(ctx: RunContext, answers: { agent: string; output: string }[]): Promise<{ ranking: RankingEntry[]; reviewers: number } | undefined> {
  const { deps, input, emit } = ctx;
  const review = deps.prompts.review;
  const reviewOne = async (reviewer: string, index: number): Promise<Review | undefined> => {
    const r0 = performance.now();
    const shown = reviewOrder(answers, input.messageId, index);
    const labels = shown.map((_, i) => reviewLabel(i));
    const target = deps.agentTargets.get(reviewer)!;
    if (ctx.overBudget()) return undefined;
    emit("review_start", { reviewer });
    let text = "";
    let usage;
    try {
      ({ text, usage } = await guardedCall(deps, {
        caller: `review:${reviewer}`,
        target,
        prompt: review,
        messages: [{ role: "system", content: review.system }, { role: "user", content: reviewUserMessage(input.message, shown.map((a, i) => ({ label: labels[i]!, text: a.output }))) }],
        timeoutMs: review.settings.timeout_ms ?? deps.settings.agentTimeoutMs,
        firstTokenTimeoutMs: deps.settings.firstTokenTimeoutMs,
        runSignal: input.signal,
        trace: input.trace,
        onDelta: () => {},
      }));
    } catch (err) {
      const e = err as CallError;
      const u = e.received?.usage;
      const cost_usd = ctx.charge(target.model, u);
      emit("review_error", { reviewer, error: { code: e.code, message: e.message }, latency_ms: since(r0), ...(u ? { usage: u } : {}), ...(cost_usd !== undefined ? { cost_usd } : {}) });
      return undefined;
    }
    const cost_usd = ctx.charge(target.model, usage);
    const bill = { ...(usage ? { usage } : {}), ...(cost_usd !== undefined ? { cost_usd } : {}) };
    const order = parseFinalRanking(text, labels);
    if (!order) {
      const error = { code: "bad_response" as const, message: `the review has no valid FINAL RANKING: block naming each of the ${labels.length} responses once` };
      emit("review_error", { reviewer, error, latency_ms: since(r0), ...bill });
      return undefined;
    }
    const ranking = order.map((l) => shown[labels.indexOf(l)]!.agent);
    emit("review_done", { reviewer, ranking, latency_ms: since(r0), ...bill });
    return { reviewer, ranking };
  };
  const reviews = (await Promise.all(answers.map((a, i) => reviewOne(a.agent, i)))).filter((r): r is Review => r !== undefined);
  if (reviews.length === 0 || input.signal.aborted) return undefined;
  const ranking = aggregate(answers.map((a) => a.agent), reviews);
  emit("ranking", { ranking, reviewers: reviews.length });
  return { ranking, reviewers: reviews.length };
}
