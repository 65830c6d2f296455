// Record mode (LLM_RECORD_DIR): wraps any LlmClient, passes every chunk through unchanged and,
// when the call ends, writes what it answered (deltas with their timing, usage, or its error)
// as a fixture file that replay mode can answer from. Format: see fixture-file.ts.
import { mkdirSync } from "node:fs";
import { CallError } from "../errors.js";
import { FIXTURE_VERSION, fixtureRequest, requestHash, writeFixture, type FixtureEvent } from "./fixture-file.js";
import type { ChatRequest, LlmClient } from "./llm-client.js";

export interface RecordingOptions {
  /** Where a failed write is reported; recording never fails the call it records. */
  warn?: (msg: string) => void;
}

export function recordingClient(inner: LlmClient, dir: string, opts: RecordingOptions = {}): LlmClient {
  // Created at start, so an unusable folder stops the process instead of every call warning.
  mkdirSync(dir, { recursive: true });

  const save = async (req: ChatRequest, events: FixtureEvent[]) => {
    const hash = requestHash(req);
    try {
      await writeFixture(dir, { version: FIXTURE_VERSION, hash, caller: req.caller, request: fixtureRequest(req), events });
    } catch (err) {
      opts.warn?.(`could not write the fixture for ${req.caller} (hash ${hash}): ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
  };

  return {
    async stream(req, onChunk) {
      const t0 = performance.now();
      const at = () => Math.round(performance.now() - t0);
      const events: FixtureEvent[] = [];
      try {
        await inner.stream(req, (chunk) => {
          events.push(chunk.type === "delta" ? { at_ms: at(), delta: chunk.text } : { at_ms: at(), usage: chunk.usage });
          onChunk(chunk);
        });
      } catch (err) {
        // A cancel, timeout or disconnect says nothing about the upstream's answer: not recorded,
        // so an earlier good fixture for the same request survives.
        if (!req.signal.aborted && err instanceof CallError) {
          events.push({ at_ms: at(), error: { code: err.code, message: err.message } });
          await save(req, events);
        }
        throw err;
      }
      // Awaited before the call completes: once a run has ended, its fixtures are on disk.
      await save(req, events);
    },
  };
}
