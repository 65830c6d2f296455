// Loads and validates the prompt files: prompts/agents/<name>.md (one agent each),
// prompts/summarizer.md, the optional review.md and judge.md (the shipped text where missing)
// and the presets (presets.ts). A file may open with a header between `---` lines holding
// `key: value` settings; the rest is the system message.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { PromptError, readText, splitHeader } from "./prompt-file.js";
import { loadPresets, type Preset } from "./presets.js";

export { PromptError } from "./prompt-file.js";

const settingsSchema = z
  .object({
    model: z.string().min(1).optional(),
    temperature: z.coerce.number().min(0).max(2).optional(),
    max_tokens: z.coerce.number().int().min(1).optional(),
    timeout_ms: z.coerce.number().int().min(1).optional(),
    // Per-agent provider: unset fields fall back to LLM_BASE_URL / LLM_KEY / UPSTREAM_RPM.
    base_url: z.url().optional(),
    api_key_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be the NAME of an environment variable, not a key")
      .optional(),
    rpm: z.coerce.number().int().min(1).optional(),
  })
  .strict();

export type PromptSettings = z.infer<typeof settingsSchema>;

export interface Prompt {
  name: string;
  system: string;
  settings: PromptSettings;
}

export interface Prompts {
  agents: Prompt[];
  summarizer: Prompt;
  /** council: each reviewer's system message (its provider and model are its agent's). */
  review: Prompt;
  /** fusion: the judge's system message; its header may set the judge's provider and model. */
  judge: Prompt;
  /** By name; `default` always among them. */
  presets: Preset[];
}

/** The prompts folder shipped with Chorus (beside src/ and dist/): the text of optional prompts a folder lacks. */
export const SHIPPED_PROMPTS_DIR = fileURLToPath(new URL("../../prompts/", import.meta.url));


const AGENT_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function parsePrompt(name: string, text: string, file: string): Prompt {
  const { header, body } = splitHeader(text, file);
  const parsed = settingsSchema.safeParse(header);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join(".") || "header"}: ${i.message}`).join("; ");
    throw new PromptError(`${file}: bad header (${why})`);
  }
  const system = body.trim();
  if (!system) throw new PromptError(`${file}: the prompt body is empty`);
  return { name, system, settings: parsed.data };
}

const readPrompt = (name: string, file: string): Prompt => parsePrompt(name, readText(file), file);

/** A prompt the folder may lack: then the shipped one. */
const optionalPrompt = (dir: string, name: string): Prompt => {
  const own = join(dir, `${name}.md`);
  return readPrompt(name, existsSync(own) ? own : join(SHIPPED_PROMPTS_DIR, `${name}.md`));
};

/** Reads the whole prompts folder; throws PromptError with the file at fault. */
export function loadPrompts(dir: string): Prompts {
  const agentsDir = join(dir, "agents");
  let files: string[];
  try {
    files = readdirSync(agentsDir).filter((f) => f.endsWith(".md")).sort();
  } catch {
    throw new PromptError(`${agentsDir}: folder not found (set PROMPTS_DIR)`);
  }
  const agents = files.map((f) => {
    const name = f.slice(0, -3);
    if (!AGENT_NAME.test(name)) {
      throw new PromptError(`${join(agentsDir, f)}: agent names are lower-case letters, digits, _ and - (max 64)`);
    }
    return readPrompt(name, join(agentsDir, f));
  });
  if (agents.length === 0) throw new PromptError(`${agentsDir}: no agent prompts (*.md) found`);
  return {
    agents,
    summarizer: readPrompt("summarizer", join(dir, "summarizer.md")),
    review: optionalPrompt(dir, "review"),
    judge: optionalPrompt(dir, "judge"),
    presets: loadPresets(join(dir, "presets"), agents.map((a) => a.name)),
  };
}
