// Presets: named run plans in prompts/presets/<name>.md. The `---` header picks the panel, the
// strategy, the rounds and the limits; unset fields take the service's defaults; the body is a
// free note for operators. Validated at start like the prompts: a bad preset stops the process.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { PromptError, readText, splitHeader } from "./prompt-file.js";

export const STRATEGIES = ["summarize", "council", "fusion"] as const;
export type Strategy = (typeof STRATEGIES)[number];
export const MAX_ROUNDS = 4;

const presetHeader = z
  .object({
    description: z.string().default(""),
    agents: z
      .string()
      .transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean))
      .optional(),
    strategy: z.enum(STRATEGIES).optional(),
    rounds: z.coerce.number().int().min(1).max(MAX_ROUNDS).optional(),
    fanout_deadline_ms: z.coerce.number().int().min(0).optional(),
    min_agents_ok: z.coerce.number().int().min(1).optional(),
    max_cost_usd: z.coerce.number().positive().optional(),
  })
  .strict();

export interface Preset {
  name: string;
  description: string;
  /** Agent names; absent: every configured agent. */
  agents?: string[];
  strategy?: Strategy;
  rounds?: number;
  fanout_deadline_ms?: number;
  min_agents_ok?: number;
  max_cost_usd?: number;
}

const PRESET_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Reads every preset of `dir` (which may be missing); `default` is added when it has no file. */
export function loadPresets(dir: string, agentNames: string[]): Preset[] {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".md")).sort();
  } catch {
    // No presets folder: only the implicit default.
  }
  const presets = files.map((f) => {
    const name = f.slice(0, -3);
    const file = join(dir, f);
    if (!PRESET_NAME.test(name)) throw new PromptError(`${file}: preset names are lower-case letters, digits, _ and - (max 64)`);
    const parsed = presetHeader.safeParse(splitHeader(readText(file), file).header);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join(".") || "header"}: ${i.message}`).join("; ");
      throw new PromptError(`${file}: bad header (${why})`);
    }
    const unknown = parsed.data.agents?.filter((a) => !agentNames.includes(a)) ?? [];
    if (unknown.length) throw new PromptError(`${file}: agents names unknown agent(s) ${unknown.join(", ")} (configured: ${agentNames.join(", ")})`);
    if (parsed.data.agents?.length === 0) throw new PromptError(`${file}: agents is empty (leave it out for every agent)`);
    return { name, ...parsed.data } as Preset;
  });
  if (!presets.some((p) => p.name === "default")) presets.unshift({ name: "default", description: "Every agent answers once; one summarizer combines the answers." });
  return presets;
}
