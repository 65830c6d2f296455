// The price table for cost estimates: a JSON file (PRICES_FILE, else <PROMPTS_DIR>/prices.json
// when it exists) mapping a model name to USD per million input and output tokens. Prices
// change without a release, so they live in a file, not in code. No table: no cost_usd.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { Usage } from "../llm/llm-client.js";

const price = z.number().min(0).max(1_000_000);
// Keys starting with "_" are comments (JSON has none): a note of where and when prices were read.
const schema = z.preprocess(
  (raw) => (raw && typeof raw === "object" && !Array.isArray(raw) ? Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith("_"))) : raw),
  z.record(z.string().min(1), z.object({ input_per_1m: price, output_per_1m: price }).strict()),
);

/** model → USD per 1M tokens. */
export type PriceTable = z.infer<typeof schema>;

export class PricesError extends Error {}

/** Reads the table; `explicit` (PRICES_FILE) must exist, the default path may be absent. */
export function loadPrices(explicit: string | undefined, promptsDir: string): PriceTable | undefined {
  const file = explicit ?? join(promptsDir, "prices.json");
  if (!explicit && !existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    const why = e instanceof SyntaxError ? "not valid JSON" : `cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`;
    throw new PricesError(`${file}: ${why}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`).join("; ");
    throw new PricesError(`${file}: ${why} (expected {"note"?: "…", "<model>": {"input_per_1m": USD, "output_per_1m": USD}})`);
  }
  const { note: _note, ...table } = parsed.data;
  return table as PriceTable;
}

/** The cost of `usage` on `model` in USD, or undefined when the model has no price. */
export function costUsd(prices: PriceTable | undefined, model: string, usage: Usage): number | undefined {
  const p = prices?.[model];
  if (!p) return undefined;
  return roundUsd((usage.prompt_tokens * p.input_per_1m + usage.completion_tokens * p.output_per_1m) / 1_000_000);
}

/** Rounded to a millionth of a cent: enough for one call, and no float noise like 0.30000000000000004. */
export const roundUsd = (usd: number) => Math.round(usd * 1e8) / 1e8;
