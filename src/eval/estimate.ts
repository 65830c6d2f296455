// The whole eval's worst-case cost, worked out before any LLM call: the service's dry-run
// estimate for every answer still to get, plus every judge call still to make priced at its
// ceiling (its prompt holding both answers at their own completion bounds, and its max_tokens).
import pLimit from "p-limit";
import { dryRun, ServiceError, type ChorusEndpoint } from "./chorus-client.js";
import type { Contender } from "./contenders.js";
import { judgeWorstCaseUsd, type Judge } from "./judge.js";
import type { Question } from "./questions.js";
import { answerKey, type AnswerRecord } from "./records.js";

export interface WorstCase {
  answersUsd: number;
  judgeUsd: number;
  /** What the name says had no price (the estimate is then unknown). */
  unpriced: string[];
}

export interface Work {
  answers: { contender: Contender; question: Question; messageId: string }[];
  verdicts: { contender: Contender; question: Question; order: "contender_first" | "baseline_first" }[];
}

export async function worstCase(
  ep: ChorusEndpoint,
  work: Work,
  have: Map<string, AnswerRecord>,
  judge: Judge,
  baseline: string,
  concurrency: number,
  signal: AbortSignal,
): Promise<WorstCase> {
  const limit = pLimit(concurrency);
  const bound = new Map<string, number>(); // answer key → completion tokens it can take at most
  for (const [key, a] of have) bound.set(key, Math.ceil((a.text ?? "").length / 4));
  const unpriced = new Set<string>();
  let answersUsd = 0;
  await Promise.all(
    work.answers.map((w) =>
      limit(async () => {
        const est = await dryRun(ep, w.contender, w.question.question, `${w.messageId}-dry`, signal);
        bound.set(answerKey(w.contender.name, w.question.id), est.completion_tokens);
        if (est.cost_usd === null) unpriced.add(`${w.contender.name} (a model of its plan)`);
        else answersUsd += est.cost_usd;
      }),
    ),
  );
  let judgeUsd = 0;
  for (const v of work.verdicts) {
    const mine = bound.get(answerKey(v.contender.name, v.question.id)) ?? 0;
    const usd = judgeWorstCaseUsd(judge, v.question.question, mine, bound.get(answerKey(baseline, v.question.id)) ?? 0);
    if (usd === null) unpriced.add(`the judge's model ${judge.target.model}`);
    else judgeUsd += usd;
  }
  return { answersUsd, judgeUsd, unpriced: [...unpriced] };
}

/**
 * One dry run per contender with answers still to get, so that a preset or agent the service
 * does not know is refused now (ServiceError naming it), not once per question. A service
 * without dry runs is not checked.
 */
export async function checkContenders(ep: ChorusEndpoint, work: Work, signal: AbortSignal): Promise<void> {
  const first = new Map<string, Work["answers"][number]>();
  for (const w of work.answers) if (!first.has(w.contender.name)) first.set(w.contender.name, w);
  await Promise.all(
    [...first.values()].map((w) =>
      dryRun(ep, w.contender, w.question.question, `${w.messageId}-check`, signal).catch((e: unknown) => {
        if (!(e instanceof ServiceError && e.code === "no_dry_run")) throw e;
      }),
    ),
  );
}
