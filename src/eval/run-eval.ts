// One eval from start to report: what is left to do (after --resume / --rejudge), the cost
// check, the answers, the judge calls (each pair twice, in both orders), then the numbers.
// Every finished item is appended to the JSONL at once; an abort (Ctrl-C) stops starting new
// work, drops what was in flight and still writes the report of what was done.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import pLimit from "p-limit";
import { answer, ServiceError, type ChorusEndpoint } from "./chorus-client.js";
import type { Contender } from "./contenders.js";
import { checkContenders, worstCase, type Work } from "./estimate.js";
import { judgePair, judgeWorstCaseUsd, type Judge } from "./judge.js";
import type { Progress } from "./progress.js";
import type { Question } from "./questions.js";
import { answerKey, readRecords, RecordLog, verdictKey, type AnswerRecord, type MetaRecord, type VerdictRecord } from "./records.js";
import { writeReports, type EvalSummary, type ReportFiles } from "./report.js";
import { contenderStats } from "./stats.js";

export interface EvalOptions {
  endpoint: ChorusEndpoint;
  questions: Question[];
  questionsFile: string;
  /** Baseline first. */
  contenders: Contender[];
  judge: Judge;
  outDir: string;
  maxCostUsd?: number;
  resume: boolean;
  rejudge: boolean;
  concurrency: number;
  signal: AbortSignal;
  progress: (total: { answers: number; verdicts: number }) => Progress;
}

export type EvalOutcome =
  | { kind: "refused"; message: string }
  | { kind: "finished" | "interrupted" | "over_budget"; summary: EvalSummary; files: ReportFiles; jsonl: string };

/** Why the eval's worst case is refused under --max-cost-usd, or undefined when it is not. */
async function overCap(o: EvalOptions, work: Work, answers: Map<string, AnswerRecord>, baseline: string, spentBefore: number): Promise<string | undefined> {
  const cap = o.maxCostUsd!;
  // Checked first: no dry run is worth making when the judge's cost cannot be bounded.
  if (work.verdicts.length && judgeWorstCaseUsd(o.judge, "", 0, 0) === null) {
    return `--max-cost-usd needs a price for every model, and the judge's model ${o.judge.target.model} has none (add it to prices.json)`;
  }
  const wc = await worstCase(o.endpoint, work, answers, o.judge, baseline, o.concurrency, o.signal);
  if (wc.unpriced.length) return `--max-cost-usd needs a price for every model, and ${wc.unpriced.join(", ")} has none (add it to prices.json)`;
  const total = spentBefore + wc.answersUsd + wc.judgeUsd;
  if (total <= cap) return undefined;
  const parts = `answers $${wc.answersUsd.toFixed(4)}, judge $${wc.judgeUsd.toFixed(4)}${spentBefore ? `, already spent $${spentBefore.toFixed(4)}` : ""}`;
  return `the eval's worst-case cost is $${total.toFixed(4)} (${parts}), above --max-cost-usd $${cap}: nothing was called`;
}

export async function runEval(o: EvalOptions): Promise<EvalOutcome> {
  const started = performance.now();
  const [baseline, ...rivals] = o.contenders as [Contender, ...Contender[]];
  mkdirSync(o.outDir, { recursive: true });
  const jsonl = join(o.outDir, "eval.jsonl");
  const log = new RecordLog(jsonl);

  // What is on file already.
  const previous = o.resume || o.rejudge ? readRecords(jsonl) : [];
  if ((o.resume || o.rejudge) && previous.length === 0) return { kind: "refused", message: `${jsonl} holds no earlier eval to ${o.rejudge ? "re-judge" : "resume"}` };
  const oldMeta = previous.find((r): r is MetaRecord => r.type === "meta");
  if (oldMeta && oldMeta.baseline !== baseline.name) {
    return { kind: "refused", message: `${jsonl} was made against baseline ${oldMeta.baseline}, not ${baseline.name}: give --baseline ${oldMeta.baseline}, or start afresh without --resume/--rejudge` };
  }
  const answers = new Map<string, AnswerRecord>();
  for (const r of previous) if (r.type === "answer") answers.set(answerKey(r.contender, r.question_id), r);
  const verdicts: VerdictRecord[] = o.rejudge ? [] : previous.filter((r): r is VerdictRecord => r.type === "verdict");
  const meta: MetaRecord = oldMeta ?? {
    type: "meta",
    started_at: new Date().toISOString(),
    chorus_url: o.endpoint.url,
    questions_file: o.questionsFile,
    baseline: baseline.name,
    contenders: o.contenders.map((c) => c.name),
    judge_model: o.judge.target.model,
  };

  // What is left to do.
  const nonce = randomBytes(4).toString("hex");
  const work: Work = { answers: [], verdicts: [] };
  o.contenders.forEach((c, i) => {
    for (const q of o.questions) {
      if (!o.rejudge && !answers.has(answerKey(c.name, q.id))) work.answers.push({ contender: c, question: q, messageId: `eval-${nonce}-c${i}-${q.id}` });
    }
  });
  const judged = new Set(verdicts.map((v) => verdictKey(v.contender, v.question_id, v.order)));
  for (const c of rivals) {
    for (const q of o.questions) {
      for (const order of ["contender_first", "baseline_first"] as const) {
        if (!judged.has(verdictKey(c.name, q.id, order))) work.verdicts.push({ contender: c, question: q, order });
      }
    }
  }
  const spentBefore = [...answers.values()].reduce((n, a) => n + (a.cost_usd ?? 0), 0) + verdicts.reduce((n, v) => n + (v.cost_usd ?? 0), 0);

  // Before anything is called or written: the contenders are ones the service knows, and the
  // worst case is under the cap.
  try {
    const refusal = o.maxCostUsd === undefined ? await checkContenders(o.endpoint, work, o.signal) : await overCap(o, work, answers, baseline.name, spentBefore);
    if (refusal) return { kind: "refused", message: refusal };
  } catch (e) {
    if (e instanceof ServiceError) return { kind: "refused", message: e.message };
    throw e;
  }

  if (!o.resume && !o.rejudge && existsSync(jsonl)) renameSync(jsonl, `${jsonl}.prev`);
  if (o.rejudge) log.rewrite([meta, ...answers.values()]);
  else if (!oldMeta) log.append(meta);

  let spent = spentBefore;
  let calls = [...answers.values()].reduce((n, a) => n + a.calls, 0) + verdicts.length;
  let overBudget = false;
  const counts = { answers: 0, verdicts: 0 };
  const bar = o.progress({ answers: work.answers.length, verdicts: work.verdicts.length });
  const tick = () => bar.update({ ...counts, calls, spentUsd: spent });
  const stopping = () => o.signal.aborted || overBudget;
  const spend = (usd: number | undefined) => {
    spent += usd ?? 0;
    // The measured spend is the hard line: past it no new call starts.
    if (o.maxCostUsd !== undefined && spent > o.maxCostUsd) overBudget = true;
  };
  const limit = pLimit(o.concurrency);
  const guarded = (fn: () => Promise<void>) =>
    limit(async () => {
      if (stopping()) return;
      try {
        await fn();
      } catch (e) {
        if (!o.signal.aborted) throw e; // only the abort is expected here
      }
    });
  tick();

  await Promise.all(
    work.answers.map((w) =>
      guarded(async () => {
        const a = await answer(o.endpoint, w.contender, w.question.question, w.messageId, o.signal);
        const rec: AnswerRecord = { type: "answer", contender: w.contender.name, question_id: w.question.id, message_id: w.messageId, ...a };
        log.append(rec);
        answers.set(answerKey(rec.contender, rec.question_id), rec);
        counts.answers++;
        calls += a.calls;
        spend(a.cost_usd);
        tick();
      }),
    ),
  );

  await Promise.all(
    work.verdicts.map((w) =>
      guarded(async () => {
        const mine = answers.get(answerKey(w.contender.name, w.question.id));
        const base = answers.get(answerKey(baseline.name, w.question.id));
        // Nothing to compare: a failed answer is scored without the judge (see stats.ts). The
        // item is settled all the same, for the progress bar.
        if (!mine?.ok || !base?.ok) {
          counts.verdicts++;
          return tick();
        }
        const [a, b] = w.order === "contender_first" ? [mine.text!, base.text!] : [base.text!, mine.text!];
        const r = await judgePair(o.judge, w.question.question, a, b, o.signal);
        const first = w.order === "contender_first" ? "contender" : "baseline";
        const second = first === "contender" ? "baseline" : "contender";
        const winner = r.verdict === null ? null : r.verdict === "TIE" ? "tie" : r.verdict === "A" ? first : second;
        const rec: VerdictRecord = { type: "verdict", contender: w.contender.name, question_id: w.question.id, order: w.order, winner, ...r };
        log.append(rec);
        verdicts.push(rec);
        counts.verdicts++;
        calls++;
        spend(r.cost_usd);
        tick();
      }),
    ),
  );
  bar.close();

  const stats = contenderStats(o.contenders.map((c) => c.name), baseline.name, o.questions, answers, verdicts);
  const summary: EvalSummary = {
    baseline: baseline.name,
    stats,
    questions: o.questions.length,
    kinds: [...new Set(o.questions.map((q) => q.kind))],
    judgeModel: o.judge.target.model,
    chorusUrl: o.endpoint.url,
    startedAt: meta.started_at,
    elapsedMs: performance.now() - started,
    spend: {
      answersUsd: [...answers.values()].reduce((n, a) => n + (a.cost_usd ?? 0), 0),
      judgeUsd: verdicts.reduce((n, v) => n + (v.cost_usd ?? 0), 0),
    },
    calls: { service: [...answers.values()].reduce((n, a) => n + a.calls, 0), judge: verdicts.length },
  };
  const files = writeReports(o.outDir, summary);
  const kind = o.signal.aborted ? "interrupted" : overBudget ? "over_budget" : "finished";
  return { kind, summary, files, jsonl };
}
