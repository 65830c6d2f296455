// A scripted LlmClient for in-process orchestration tests, in the manner of the Vercel AI SDK's
// mock models: each call plays a script of chunks, waits, errors, a never-ending stall or an
// endless drip of tokens, chosen by the caller's name and its call index. Every request is
// recorded, and the abort signal is honoured at every step (abort → the signal's reason, at once).
import { CallError, type CallErrorCode } from "../../src/errors.js";
import { pushEach, type ChatChunk, type ChatMessage, type ChatRequest, type LlmClient, type Usage } from "../../src/llm/llm-client.js";

export type Step =
  | { type: "delta"; text: string }
  | { type: "usage"; usage: Usage }
  | { type: "wait"; ms: number }
  | { type: "fail"; code: CallErrorCode; message: string }
  /** Waits until aborted: a dead connection. */
  | { type: "stall" }
  /** Sends `text` every `everyMs` until aborted: a healthy answer that never ends. */
  | { type: "drip"; text: string; everyMs: number };

/** A script is its steps; a bare string is one delta. */
export type Script = (Step | string)[];

export const wait = (ms: number): Step => ({ type: "wait", ms });
export const usage = (prompt_tokens: number, completion_tokens: number): Step => ({
  type: "usage",
  usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
});
export const fail = (code: CallErrorCode, message = `scripted ${code}`): Step => ({ type: "fail", code, message });
export const stall = (): Step => ({ type: "stall" });
export const drip = (text: string, everyMs: number): Step => ({ type: "drip", text, everyMs });

export interface RecordedCall {
  caller: string;
  model: string;
  messages: ChatMessage[];
  signal: AbortSignal;
  /** How the script ended; undefined while it runs. */
  ended?: "completed" | "failed" | "aborted";
}

export interface ScriptedLlm extends LlmClient {
  calls: RecordedCall[];
  callsOf(caller: string): RecordedCall[];
  /** Resolves once `caller` has made `n` calls (its n-th stream has started). */
  started(caller: string, n?: number): Promise<void>;
}

/**
 * `scripts[caller]` is one script for every call of that caller, or a list of scripts, one per
 * call in order (the last repeats). Callers without a script play `fallback`.
 */
export function scriptedLlm(scripts: Record<string, Script | Script[]>, fallback: Script = ["ok"]): ScriptedLlm {
  const calls: RecordedCall[] = [];
  const waiters: { caller: string; n: number; resolve: () => void }[] = [];
  const callsOf = (caller: string) => calls.filter((c) => c.caller === caller);
  const scriptFor = (caller: string, index: number): Script => {
    const s = scripts[caller];
    if (!s) return fallback;
    if (s.length > 0 && Array.isArray(s[0])) {
      const list = s as Script[];
      return list[Math.min(index, list.length - 1)]!;
    }
    return s as Script;
  };

  async function* play(req: ChatRequest, script: Script, call: RecordedCall): AsyncGenerator<ChatChunk> {
    const { signal } = req;
    const aborted = () => new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
    const sleep = (ms: number) =>
      new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const t = setTimeout(() => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        }, ms);
        const onAbort = () => {
          clearTimeout(t);
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
      });
    try {
      for (const raw of script) {
        if (signal.aborted) throw signal.reason;
        const step: Step = typeof raw === "string" ? { type: "delta", text: raw } : raw;
        if (step.type === "delta") yield { type: "delta", text: step.text };
        else if (step.type === "usage") yield { type: "usage", usage: step.usage };
        else if (step.type === "wait") await sleep(step.ms);
        else if (step.type === "fail") throw new CallError(step.code, step.message);
        else if (step.type === "stall") await (signal.aborted ? Promise.reject(signal.reason) : aborted());
        else
          for (;;) {
            await sleep(step.everyMs);
            yield { type: "delta", text: step.text };
          }
      }
      if (signal.aborted) throw signal.reason;
      call.ended = "completed";
    } catch (err) {
      call.ended = signal.aborted ? "aborted" : "failed";
      throw err;
    }
  }

  return {
    calls,
    callsOf,
    started: (caller, n = 1) =>
      callsOf(caller).length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ caller, n, resolve })),
    stream(req, onChunk) {
      const call: RecordedCall = { caller: req.caller, model: req.model, messages: req.messages, signal: req.signal };
      const script = scriptFor(req.caller, callsOf(req.caller).length);
      calls.push(call);
      for (const w of waiters.filter((w) => callsOf(w.caller).length >= w.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      return pushEach(play(req, script, call), onChunk);
    },
  };
}
