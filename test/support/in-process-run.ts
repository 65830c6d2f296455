// Builds a run's dependencies without HTTP (prompts, targets, p-limit, budgets, settings) and
// runs the fan-out in-process, collecting its events. Every emitted event is checked against the
// contract's schemas (run/events.ts), so every in-process test also checks the event payloads.
import pLimit from "p-limit";
import { expect } from "vitest";
import type { PriceTable } from "../../src/config/prices.js";
import type { Prompt } from "../../src/config/prompts.js";
import type { ChatMessage, LlmClient } from "../../src/llm/llm-client.js";
import { createUpstreamBudgets } from "../../src/llm/upstream-budget.js";
import type { UpstreamTarget } from "../../src/llm/upstream-target.js";
import { parseEvent, TERMINAL_EVENTS, type RunEvent } from "../../src/run/events.js";
import { runFanOut, type FanOutDeps, type FanOutInput, type FanOutSettings } from "../../src/run/fan-out.js";
import type { CallRecord, RunOutcome } from "../../src/run/outcome.js";

export const target = (model: string): UpstreamTarget => ({ model, baseURL: "http://scripted.invalid/v1", apiKey: "not-needed", rpm: 0, label: `scripted ${model}` });
const prompt = (name: string, system: string): Prompt => ({ name, system, settings: {} });

/** Generous limits: a test that wants a timeout sets the one it exercises, small. */
export const relaxed: FanOutSettings = {
  agentTimeoutMs: 10_000,
  summarizerTimeoutMs: 10_000,
  firstTokenTimeoutMs: 10_000,
  summarizerFirstTokenTimeoutMs: 10_000,
  stallTimeoutMs: 10_000,
  fanOutDeadlineMs: 0,
  minAgentsOk: 1,
  maxOutputChars: 100_000,
  maxTokens: 4096,
};

export interface TestDepsOptions {
  agents?: string[];
  /** Models of the summarizer's fallbacks (SUMMARIZER_FALLBACK_MODELS). */
  fallbacks?: string[];
  settings?: Partial<FanOutSettings>;
  prices?: PriceTable;
  maxConcurrentCalls?: number;
}

/** FanOutDeps over `llm`: agent `a` calls model `a-model`, the summarizer `summary-model`. */
export function testDeps(llm: LlmClient, opts: TestDepsOptions = {}): FanOutDeps & { callRecords: CallRecord[] } {
  const agents = (opts.agents ?? ["alpha", "beta", "gamma"]).map((n) => prompt(n, `You are ${n}.`));
  const callRecords: CallRecord[] = [];
  return {
    llm,
    prompts: {
      agents,
      summarizer: prompt("summarizer", "Combine the answers."),
      review: prompt("review", "Rank the responses."),
      judge: prompt("judge", "Analyse the answers."),
      presets: [{ name: "default", description: "" }],
    },
    agentTargets: new Map(agents.map((a) => [a.name, target(`${a.name}-model`)])),
    summarizerTargets: [target("summary-model"), ...(opts.fallbacks ?? []).map(target)],
    judgeTarget: target("judge-model"),
    budgets: createUpstreamBudgets(),
    limit: pLimit(opts.maxConcurrentCalls ?? 16),
    settings: { ...relaxed, ...opts.settings },
    prices: opts.prices,
    onCall: (c) => callRecords.push(c),
    callRecords,
  };
}

export interface RunOptions {
  message?: string;
  streamAgents?: boolean;
  history?: ChatMessage[];
  /** Cancels the run (abort it with a RunAbort). */
  controller?: AbortController;
  strategy?: FanOutInput["strategy"];
  rounds?: number;
  maxCostUsd?: number;
}

export interface InProcessRun {
  outcome: RunOutcome;
  events: RunEvent[];
  names: string[];
  /** The payloads of one event type, typed. */
  of<E extends RunEvent["event"]>(event: E): Extract<RunEvent, { event: E }>["data"][];
  terminal: RunEvent;
}

/** Runs the fan-out to its end; fails the test if any event breaks its schema or the stream ends wrongly. */
export async function runInProcess(deps: FanOutDeps, opts: RunOptions = {}): Promise<InProcessRun> {
  const events: RunEvent[] = [];
  const invalid: string[] = [];
  const controller = opts.controller ?? new AbortController();
  const outcome = await runFanOut(
    deps,
    {
      messageId: "m-1",
      message: opts.message ?? "Why is the sky blue?",
      agents: deps.prompts.agents,
      streamAgents: opts.streamAgents ?? false,
      history: opts.history,
      signal: controller.signal,
      strategy: opts.strategy,
      rounds: opts.rounds,
      maxCostUsd: opts.maxCostUsd,
    },
    // Checked as a client would: through the JSON wire form, against the schema. Not thrown
    // here: the stage would catch it and report an agent error instead.
    (event, data) => {
      try {
        events.push(parseEvent(events.length + 1, event, JSON.parse(JSON.stringify(data))));
      } catch (err) {
        invalid.push(`${event}: ${(err as Error).message}`);
      }
    },
  );
  expect(invalid).toEqual([]);
  const names = events.map((e) => e.event);
  expect(names[0]).toBe("start");
  expect(names.filter((n) => TERMINAL_EVENTS.has(n as RunEvent["event"]))).toHaveLength(1);
  const terminal = events[events.length - 1]!;
  expect(TERMINAL_EVENTS.has(terminal.event)).toBe(true);
  return {
    outcome,
    events,
    names,
    of: (event) => events.filter((e) => e.event === event).map((e) => e.data) as never,
    terminal,
  };
}
