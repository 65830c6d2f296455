// The numbers of the table: per contender, the win rate against the baseline with a 95 %
// interval, cost per question, latency percentiles and failures.
//
// The unit is the question. Each question gives the contender one score in [0, 1]: the mean of
// its valid verdicts (win 1, tie 0.5, loss 0) over the two orders. An answer that failed loses
// to one that came (the user got nothing); two failed answers, or two failed verdicts, leave
// the question out. The interval is Wilson's score interval over those question scores: the
// two swapped verdicts of a question are not independent, so counting them as separate trials
// would make the interval falsely narrow; Wilson stays inside [0, 1] and, unlike a bootstrap,
// does not shrink to zero width when every question goes the same way on a small set. With ties
// worth a half the true variance is below the binomial one, so the interval errs on the wide side.
import type { Question } from "./questions.js";
import { answerKey, type AnswerRecord, type VerdictRecord } from "./records.js";

export interface ContenderStats {
  contender: string;
  baseline: boolean;
  /** Questions that count toward the win rate. */
  scored: number;
  winRate: number | null;
  ci: [number, number] | null;
  /** Question scores of 1, 0.5 (and between), 0: for the report. */
  wins: number;
  ties: number;
  losses: number;
  /** Mean done.cost_usd over the answers that reported one; null when none did. */
  costPerQuestion: number | null;
  latencyP50: number | null;
  latencyP95: number | null;
  answers: number;
  answersFailed: number;
  verdictsFailed: number;
  /** Win rate per question kind. */
  byKind: Record<string, { winRate: number | null; scored: number }>;
}

const Z95 = 1.959964;

/** Wilson score interval for a mean of scores in [0, 1] over n questions. */
export function wilson(mean: number, n: number, z = Z95): [number, number] {
  if (n === 0) return [0, 1];
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (mean + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((mean * (1 - mean)) / n + z2 / (4 * n * n));
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

/** Nearest-rank percentile (p in (0, 1]). */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const SCORE = { contender: 1, tie: 0.5, baseline: 0 } as const;

/** The contender's score on one question, or undefined when the question does not count. */
export function questionScore(mine: AnswerRecord | undefined, base: AnswerRecord | undefined, verdicts: VerdictRecord[]): number | undefined {
  if (!mine || !base) return undefined;
  if (!mine.ok || !base.ok) return mine.ok === base.ok ? undefined : mine.ok ? 1 : 0;
  return mean(verdicts.flatMap((v) => (v.winner ? [SCORE[v.winner]] : []))) ?? undefined;
}

export function contenderStats(
  contenders: string[],
  baseline: string,
  questions: Question[],
  answers: Map<string, AnswerRecord>,
  verdicts: VerdictRecord[],
): ContenderStats[] {
  return contenders.map((contender) => {
    const mine = questions.map((q) => answers.get(answerKey(contender, q.id))).filter((a): a is AnswerRecord => !!a);
    const ok = mine.filter((a) => a.ok);
    const costs = mine.flatMap((a) => (typeof a.cost_usd === "number" ? [a.cost_usd] : []));
    const latencies = ok.map((a) => a.latency_ms);
    const own = verdicts.filter((v) => v.contender === contender);
    const scores: { kind: string; score: number }[] = [];
    if (contender !== baseline) {
      for (const q of questions) {
        const s = questionScore(answers.get(answerKey(contender, q.id)), answers.get(answerKey(baseline, q.id)), own.filter((v) => v.question_id === q.id));
        if (s !== undefined) scores.push({ kind: q.kind, score: s });
      }
    }
    const winRate = mean(scores.map((s) => s.score));
    const byKind: ContenderStats["byKind"] = {};
    for (const kind of [...new Set(questions.map((q) => q.kind))]) {
      const ks = scores.filter((s) => s.kind === kind).map((s) => s.score);
      byKind[kind] = { winRate: mean(ks), scored: ks.length };
    }
    return {
      contender,
      baseline: contender === baseline,
      scored: scores.length,
      winRate,
      ci: winRate === null ? null : wilson(winRate, scores.length),
      wins: scores.filter((s) => s.score === 1).length,
      ties: scores.filter((s) => s.score > 0 && s.score < 1).length,
      losses: scores.filter((s) => s.score === 0).length,
      costPerQuestion: mean(costs),
      latencyP50: percentile(latencies, 0.5),
      latencyP95: percentile(latencies, 0.95),
      answers: mine.length,
      answersFailed: mine.length - ok.length,
      verdictsFailed: own.filter((v) => !v.winner).length,
      byKind,
    };
  });
}

/** Whether the interval says the contender differs from the baseline (it excludes 50 %). */
export const significant = (s: ContenderStats) => !!s.ci && (s.ci[0] > 0.5 || s.ci[1] < 0.5);
