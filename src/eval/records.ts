// The raw record of an eval: one JSON object per line, appended as each answer or verdict is
// finished, so Ctrl-C loses only what was in flight and --resume / --rejudge can read it back.
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { Answer } from "./chorus-client.js";
import type { JudgeResult } from "./judge.js";

export interface MetaRecord {
  type: "meta";
  started_at: string;
  chorus_url: string;
  questions_file: string;
  baseline: string;
  contenders: string[];
  judge_model: string;
}

export interface AnswerRecord extends Answer {
  type: "answer";
  contender: string;
  question_id: string;
  message_id: string;
}

/**
 * One judge call on (contender, baseline) for a question. `order` says who was shown first:
 * "contender_first" puts the contender's answer in position A, "baseline_first" in B.
 */
export interface VerdictRecord extends JudgeResult {
  type: "verdict";
  contender: string;
  question_id: string;
  order: "contender_first" | "baseline_first";
  /** The verdict read back to names: who won this call; null when the verdict failed. */
  winner: "contender" | "baseline" | "tie" | null;
}

export type EvalRecord = MetaRecord | AnswerRecord | VerdictRecord;

export const answerKey = (contender: string, questionId: string) => `${contender}\u0000${questionId}`;
export const verdictKey = (contender: string, questionId: string, order: VerdictRecord["order"]) => `${contender}\u0000${questionId}\u0000${order}`;

/** The records of a JSONL file; a line cut short by an interrupted write is skipped. */
export function readRecords(file: string): EvalRecord[] {
  if (!existsSync(file)) return [];
  const records: EvalRecord[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as EvalRecord;
      if (r && (r.type === "meta" || r.type === "answer" || r.type === "verdict")) records.push(r);
    } catch {
      // An interrupted last line: that item is simply done again.
    }
  }
  return records;
}

export class RecordLog {
  constructor(readonly file: string) {}

  /** One line per record, written at once: a kill mid-run leaves whole lines behind. */
  append(record: EvalRecord): void {
    appendFileSync(this.file, `${JSON.stringify(record)}\n`);
  }

  /** Replaces the file with `records` (atomically: a temporary file renamed over it). */
  rewrite(records: EvalRecord[]): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    renameSync(tmp, this.file);
  }
}
