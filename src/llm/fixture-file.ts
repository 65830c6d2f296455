// Recorded LLM calls on disk (LLM_RECORD_DIR / LLM_REPLAY_DIR): one pretty-printed JSON file per
// call, named `<caller>-<hash>.json`, where hash = the first 16 hex chars of the sha256 of the
// canonical JSON (keys sorted, no spaces) of the request's {model, messages, temperature,
// max_tokens}. The caller is in the name for humans; the hash is what makes a call match.
//
// Format, version 1 (times are ms since the call started; `error`, if any, is the last event):
//   {
//     "version": 1,
//     "hash": "3f9a0c1d2e4b5a67",
//     "caller": "analyst",
//     "request": { "model": "gpt-4o-mini", "temperature": 0.3, "max_tokens": 600,
//                  "messages": [{ "role": "system", "content": "..." }, ...] },
//     "events": [
//       { "at_ms": 412, "delta": "Gravity " },
//       { "at_ms": 455, "delta": "pulls." },
//       { "at_ms": 460, "usage": { "prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12 } },
//       { "at_ms": 470, "error": { "code": "upstream_error", "message": "upstream LLM answered 500" } }
//     ]
//   }
// Only these fields are ever written: never the endpoint, its key or any header.
import { createHash, randomUUID } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { CallError, type CallErrorCode } from "../errors.js";
import type { ChatRequest } from "./llm-client.js";

export const FIXTURE_VERSION = 1;

// Exhaustive by construction, so a recorded code is always one the contract knows.
const callErrorCodes = {
  upstream_error: true,
  rate_limited: true,
  timeout: true,
  bad_response: true,
  cancelled: true,
  fixture_missing: true,
} satisfies Record<CallErrorCode, true>;

const usageSchema = z.object({
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  total_tokens: z.number(),
});
const atMs = z.number().min(0);
const eventSchema = z.union([
  z.object({ at_ms: atMs, delta: z.string() }),
  z.object({ at_ms: atMs, usage: usageSchema }),
  z.object({
    at_ms: atMs,
    error: z.object({
      code: z.enum(Object.keys(callErrorCodes) as [CallErrorCode, ...CallErrorCode[]]),
      message: z.string(),
    }),
  }),
]);
const fixtureSchema = z.object({
  version: z.literal(FIXTURE_VERSION),
  hash: z.string(),
  caller: z.string(),
  request: z.record(z.string(), z.unknown()),
  events: z.array(eventSchema),
});

export type FixtureEvent = z.infer<typeof eventSchema>;
export type Fixture = z.infer<typeof fixtureSchema>;

/** The part of a request that decides its answer: what is recorded and hashed. */
export function fixtureRequest(req: ChatRequest) {
  return {
    model: req.model,
    temperature: req.temperature ?? null,
    max_tokens: req.maxTokens ?? null,
    messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
  };
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function requestHash(req: ChatRequest): string {
  return createHash("sha256").update(canonicalJson(fixtureRequest(req))).digest("hex").slice(0, 16);
}

/** `<caller>-<hash>.json`; the caller is reduced to safe characters so it can never leave the folder. */
export function fixtureFileName(caller: string, hash: string): string {
  return `${caller.replace(/[^A-Za-z0-9_-]/g, "_")}-${hash}.json`;
}

/** Pretty-printed, but one line per event: a recording of 300 tokens stays easy to scan and diff. */
function formatFixture(fixture: Fixture): string {
  const { events, ...head } = fixture;
  const lines = events.map((e) => `    ${JSON.stringify(e)}`).join(",\n");
  const headText = JSON.stringify(head, null, 2).slice(0, -2); // without the closing "\n}"
  return `${headText},\n  "events": [${lines ? `\n${lines}\n  ` : ""}]\n}\n`;
}

/** Writes atomically (temp file + rename): a replay never sees half a file, concurrent runs never interleave. */
export async function writeFixture(dir: string, fixture: Fixture): Promise<string> {
  const file = join(dir, fixtureFileName(fixture.caller, fixture.hash));
  const tmp = `${file}.${randomUUID().slice(0, 8)}.tmp`;
  await writeFile(tmp, formatFixture(fixture));
  await rename(tmp, file);
  return file;
}

/**
 * Reads the fixture recorded for this request. A missing, unreadable or corrupt file is a
 * CallError `fixture_missing` whose message names the caller, the hash and what is wrong:
 * never `bad_response`, which a fixture may legitimately hold as a recorded upstream failure.
 */
export async function readFixture(dir: string, req: ChatRequest): Promise<Fixture> {
  const hash = requestHash(req);
  const name = fixtureFileName(req.caller, hash);
  let text: string;
  try {
    text = await readFile(join(dir, name), { encoding: "utf8", signal: req.signal });
  } catch (err) {
    if (req.signal.aborted) throw req.signal.reason;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no recorded fixture" : `cannot read the fixture (${code ?? "error"})`;
    throw new CallError("fixture_missing", `${why} for ${req.caller}: request hash ${hash} (file ${name})`);
  }
  const corrupt = (why: string) =>
    new CallError("fixture_missing", `fixture ${name} for ${req.caller} is corrupt (${why}); delete it and record again`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw corrupt("not valid JSON");
  }
  const parsed = fixtureSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw corrupt(`${issue.path.join(".") || "file"}: ${issue.message}`);
  }
  return parsed.data;
}
