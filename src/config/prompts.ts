// Loads and validates the prompt files: prompts/agents/<name>.md (one agent each) and
// prompts/summarizer.md. A file may open with a header between `---` lines holding
// `key: value` settings; the rest is the system message.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

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
}

export class PromptError extends Error {}

const AGENT_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function parsePrompt(name: string, text: string, file: string): Prompt {
  let body = text.replace(/^\uFEFF/, "");
  const header: Record<string, string> = {};
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(body);
  if (m) {
    body = body.slice(m[0].length);
    for (const line of m[1]!.split(/\r?\n/)) {
      if (!line.trim() || line.trim().startsWith("#")) continue;
      const kv = /^\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$/.exec(line);
      if (!kv) throw new PromptError(`${file}: header line "${line}" is not "key: value"`);
      header[kv[1]!] = kv[2]!.replace(/^["'](.*)["']$/, "$1");
    }
  }
  const parsed = settingsSchema.safeParse(header);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join(".") || "header"}: ${i.message}`).join("; ");
    throw new PromptError(`${file}: bad header (${why})`);
  }
  const system = body.trim();
  if (!system) throw new PromptError(`${file}: the prompt body is empty`);
  return { name, system, settings: parsed.data };
}

function readPrompt(name: string, file: string): Prompt {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new PromptError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  return parsePrompt(name, text, file);
}

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
  return { agents, summarizer: readPrompt("summarizer", join(dir, "summarizer.md")) };
}
