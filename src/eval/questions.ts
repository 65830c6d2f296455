// The question set: a JSONL file, one {"id","kind","question"} per line. Validated whole before
// anything is called, so a typo on line 27 stops the eval at once, naming the line.
import { readFileSync } from "node:fs";
import { z } from "zod";

const questionSchema = z
  .object({
    // Becomes part of each run's message_id, so it follows the same character rule.
    id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 characters from A-Z a-z 0-9 _ - ."),
    kind: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "must be a short lower-case word, e.g. factual").default("general"),
    question: z.string().refine((s) => s.trim().length > 0, "must not be empty"),
  })
  .strict();

export type Question = z.infer<typeof questionSchema>;

export class QuestionsError extends Error {}

/** Parses JSONL text; throws QuestionsError naming the file, the line and the field. */
export function parseQuestions(text: string, file: string): Question[] {
  const questions: Question[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${file}:${i + 1}`;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw new QuestionsError(`${where}: not a JSON object`);
    }
    const parsed = questionSchema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues.map((x) => `${x.path.join(".") || "(line)"}: ${x.message}`).join("; ");
      throw new QuestionsError(`${where}: ${why} (expected {"id","kind","question"})`);
    }
    if (seen.has(parsed.data.id)) throw new QuestionsError(`${where}: id "${parsed.data.id}" is used twice`);
    seen.add(parsed.data.id);
    questions.push(parsed.data);
  });
  if (questions.length === 0) throw new QuestionsError(`${file}: holds no questions`);
  return questions;
}

export function loadQuestions(file: string): Question[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new QuestionsError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  return parseQuestions(text, file);
}
