// Replay mode (LLM_REPLAY_DIR): answers every call from the fixture recorded for the same
// request, with the recorded timing scaled by `speed`. No network, no mock: a call without a
// usable fixture fails with `fixture_missing`, so a stale recording can never pass unnoticed.
import { setTimeout as sleep } from "node:timers/promises";
import { CallError } from "../errors.js";
import { readFixture } from "./fixture-file.js";
import { pushEach, type ChatChunk, type ChatRequest, type LlmClient } from "./llm-client.js";

/**
 * @param speed timing factor: 1 = as recorded, 2 = twice as fast, Infinity = no delays at all.
 */
export function replayClient(dir: string, speed: number): LlmClient {
  async function* answer(req: ChatRequest): AsyncGenerator<ChatChunk> {
    const t0 = performance.now();
    try {
      const fixture = await readFixture(dir, req);
      for (const ev of fixture.events) {
        // Scheduled from the call's start, not chained, so delays do not add up drift.
        const wait = t0 + ev.at_ms / speed - performance.now();
        if (wait > 0) await sleep(wait, undefined, { signal: req.signal });
        if (req.signal.aborted) throw req.signal.reason;
        if ("delta" in ev) yield { type: "delta", text: ev.delta };
        else if ("usage" in ev) yield { type: "usage", usage: ev.usage };
        else throw new CallError(ev.error.code, ev.error.message);
      }
    } catch (err) {
      // Same contract as the real clients: an abort surfaces as the signal's reason.
      if (req.signal.aborted) throw req.signal.reason;
      throw err;
    }
  }
  return { stream: (req, onChunk) => pushEach(answer(req), onChunk) };
}
