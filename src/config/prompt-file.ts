// Reading one prompt-style file: its optional `---` header of `key: value` lines, and its body.
// Shared by the prompts (prompts.ts) and the presets (presets.ts).
import { readFileSync } from "node:fs";

/** A prompt or preset file that cannot be used; the message names the file. */
export class PromptError extends Error {}

/** Splits a file into its `---` header (key → raw value) and its body. */
export function splitHeader(text: string, file: string): { header: Record<string, string>; body: string } {
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
  return { header, body };
}

export function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new PromptError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

