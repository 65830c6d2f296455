// The fusion judge: one call reads the question and the answers (labelled by agent) and returns
// a structured analysis: consensus, contradictions with each agent's stance, unique insights and
// blind spots. A reply in a code fence or with chatter around the object is still read; a failed
// call or an invalid object gives analysis_error, and the summary is made without it.
import type { CallError } from "../errors.js";
import type { RunContext } from "./context.js";
import { analysisSchema, type EventData } from "./events.js";
import { guardedCall } from "./guarded-call.js";
import { judgeUserMessage } from "./stage-messages.js";

export type Analysis = EventData<"analysis">;

/** The JSON object of a judge's reply, validated; undefined when there is none. */
export function parseAnalysis(reply: string): Analysis | undefined {
  const candidates: string[] = [];
  for (const m of reply.matchAll(/```(?:json)?\s*\n([\s\S]*?)```/gi)) candidates.push(m[1]!);
  const first = reply.indexOf("{");
  const last = reply.lastIndexOf("}");
  if (first >= 0 && last > first) candidates.push(reply.slice(first, last + 1));
  for (const c of candidates) {
    try {
      const parsed = analysisSchema.safeParse(JSON.parse(c));
      if (parsed.success) return parsed.data;
    } catch {
      // not JSON: try the next candidate
    }
  }
  return undefined;
}

/** Calls the judge and emits analysis or analysis_error; undefined when there is no analysis. */
export async function runJudge(ctx: RunContext, answers: { agent: string; output: string }[]): Promise<Analysis | undefined> {
  const { deps, input, emit } = ctx;
  const judge = deps.prompts.judge;
  const target = deps.judgeTarget ?? deps.summarizerTargets[0]!;
  let text: string;
  try {
    const res = await guardedCall(deps, {
      caller: "judge",
      target,
      prompt: judge,
      messages: [{ role: "system", content: judge.system }, { role: "user", content: judgeUserMessage(input.message, answers.map((a) => ({ label: a.agent, text: a.output }))) }],
      timeoutMs: judge.settings.timeout_ms ?? deps.settings.summarizerTimeoutMs,
      firstTokenTimeoutMs: deps.settings.firstTokenTimeoutMs,
      runSignal: input.signal,
      trace: input.trace,
      onDelta: () => {},
    });
    ctx.charge(target.model, res.usage);
    text = res.text;
  } catch (err) {
    const e = err as CallError;
    ctx.charge(target.model, e.received?.usage);
    if (!input.signal.aborted) emit("analysis_error", { error: { code: e.code, message: e.message } });
    return undefined;
  }
  const analysis = parseAnalysis(text);
  if (!analysis) {
    emit("analysis_error", { error: { code: "bad_response", message: "the judge's reply holds no valid analysis JSON object" } });
    return undefined;
  }
  emit("analysis", analysis);
  return analysis;
}
