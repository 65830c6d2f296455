// `chorus eval`: is a council worth its price on your models and questions? Runs a question set
// through several contenders (presets, strategies, single agents) on a Chorus service, has a
// judge model compare each answer with the baseline's in both orders, prints the table and
// writes the report. Exit status: 0 done, 1 stopped by the cost cap mid-run, 2 refused (bad
// usage, bad input, over the cost cap, service unreachable), 130 interrupted (Ctrl-C).
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/env.js";
import { PromptError } from "../config/prompts.js";
import { createLlmClient } from "../llm/create-llm-client.js";
import { presets, ServiceError, type ChorusEndpoint } from "./chorus-client.js";
import { contenderList, ContenderError } from "./contenders.js";
import { terminalTable } from "./format.js";
import { createJudge } from "./judge.js";
import type { LocalChorus } from "./local-chorus.js";
import { Progress } from "./progress.js";
import { loadQuestions, QuestionsError } from "./questions.js";
import { runEval } from "./run-eval.js";

/** The question set shipped with Chorus, found from this file wherever the command runs. */
const SHIPPED_QUESTIONS = relative(process.cwd(), fileURLToPath(new URL("../../eval/questions.jsonl", import.meta.url))) || ".";

export const EVAL_USAGE = `Usage: chorus eval [options]

Runs every question of a set through each contender, has a judge model compare each answer
with the baseline's (twice, in both orders), prints win rate vs the baseline with a 95 %
interval, cost per question, latency and failures, and writes report.md, report.html and
eval.jsonl (every answer and verdict) to --out.

Contenders: preset:NAME, strategy:summarize|council|fusion, agent:NAME (that agent alone).

Options:
  --url URL            Chorus base URL (default: $CHORUS_URL or http://127.0.0.1:8080)
  --key KEY            API key for Chorus (default: $CHORUS_API_KEY)
  --local              start Chorus inside this process on a free 127.0.0.1 port instead,
                       with this environment's settings (the mock LLM unless USE_LLM_MOCK=false)
  --questions FILE     JSONL of {"id","kind","question"} (default: the shipped
                       eval/questions.jsonl, 30 questions of four kinds)
  --limit N            only the first N questions
  --contenders a,b     contenders (default: every preset of the service, preset:NAME)
  --baseline SPEC      what the others are compared with (default: agent:<first agent>)
  --out DIR            where the report and eval.jsonl go (default: eval-output)
  --max-cost-usd USD   refuse before any call if the worst case is above USD; stop past it
  --concurrency N      runs and judge calls at a time (default: 4; 8 with --local on the mock)
  --resume             continue the eval in --out: nothing already in eval.jsonl is redone
  --rejudge            judge the answers in --out/eval.jsonl again; no new answers
  -h, --help           show this help

The judge: prompts/eval-judge.md (its header may set model, base_url, api_key_env like the
summarizer's), called with LLM_BASE_URL / LLM_KEY, or the built-in mock with USE_LLM_MOCK=true.
`;

class UsageError extends Error {}

interface EvalArgs {
  endpoint: ChorusEndpoint;
  local: boolean;
  questions: string;
  limit?: number;
  contenders?: string[];
  baseline?: string;
  out: string;
  maxCostUsd?: number;
  concurrency?: number;
  resume: boolean;
  rejudge: boolean;
}

function parse(argv: string[], env: NodeJS.ProcessEnv): EvalArgs | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        url: { type: "string" },
        key: { type: "string" },
        local: { type: "boolean", default: false },
        questions: { type: "string", default: SHIPPED_QUESTIONS },
        limit: { type: "string" },
        contenders: { type: "string" },
        baseline: { type: "string" },
        out: { type: "string", default: "eval-output" },
        "max-cost-usd": { type: "string" },
        concurrency: { type: "string" },
        resume: { type: "boolean", default: false },
        rejudge: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return "help";
  const positive = (name: string, s: string | undefined, int: boolean) => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!(n > 0) || (int && !Number.isInteger(n)) || !Number.isFinite(n)) throw new UsageError(`--${name} must be a positive ${int ? "integer" : "number"}`);
    return n;
  };
  if (v.resume && v.rejudge) throw new UsageError("--resume and --rejudge do not go together: --rejudge redoes every verdict");
  if (v.local && v.url) throw new UsageError("--local starts its own Chorus: it does not go with --url");
  const contenders = v.contenders?.split(",").map((c) => c.trim()).filter(Boolean);
  if (v.contenders !== undefined && !contenders?.length) throw new UsageError("--contenders needs at least one contender, e.g. preset:council");
  const limit = positive("limit", v.limit, true);
  const maxCostUsd = positive("max-cost-usd", v["max-cost-usd"], false);
  return {
    endpoint: { url: (v.url ?? env.CHORUS_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, ""), ...(v.key ?? env.CHORUS_API_KEY ? { key: v.key ?? env.CHORUS_API_KEY } : {}) },
    local: v.local,
    questions: v.questions,
    ...(limit ? { limit } : {}),
    ...(contenders ? { contenders } : {}),
    ...(v.baseline ? { baseline: v.baseline } : {}),
    out: v.out,
    ...(maxCostUsd ? { maxCostUsd } : {}),
    ...(v.concurrency ? { concurrency: positive("concurrency", v.concurrency, true)! } : {}),
    resume: v.resume,
    rejudge: v.rejudge,
  };
}

export async function evalCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const fail = (message: string) => {
    process.stderr.write(`chorus eval: ${message}\n`);
    return 2;
  };
  let args: EvalArgs | "help";
  try {
    args = parse(argv, env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return fail(`${e.message}\n\n${EVAL_USAGE}`);
  }
  if (args === "help") {
    process.stdout.write(EVAL_USAGE);
    return 0;
  }
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130); // a second Ctrl-C: leave now
    process.stderr.write("\nchorus eval: stopping; what is finished stays in eval.jsonl (--resume continues)\n");
    controller.abort(new Error("interrupted"));
  };
  process.on("SIGINT", onSigint);
  let local: LocalChorus | undefined;
  try {
    const questions = loadQuestions(args.questions).slice(0, args.limit);
    // The mock LLM (judge and --local service) answers at once unless the environment itself
    // asks for a delay: .env's delay is there for watching the web page stream, not for an eval.
    const delay = env.MOCK_TOKEN_DELAY_MS || "0";
    const config = { ...loadConfig(), MOCK_TOKEN_DELAY_MS: Number(delay) };
    const judge = createJudge(config, createLlmClient(config), env);
    if (args.local) {
      const { startLocalChorus } = await import("./local-chorus.js");
      local = await startLocalChorus({ ...env, MOCK_TOKEN_DELAY_MS: delay });
      args.endpoint = { url: local.url };
    }
    // Defaults from the service itself: its presets, and the default preset's first agent.
    let rivals = args.contenders;
    let baseline = args.baseline;
    if (!rivals || !baseline) {
      const list = await presets(args.endpoint, controller.signal);
      // The default preset first: it is what a request without a preset gets.
      rivals ??= list.map((p) => `preset:${p.name}`).sort((a, b) => Number(b === "preset:default") - Number(a === "preset:default"));
      const first = (list.find((p) => p.name === "default") ?? list[0])?.agents[0];
      if (!baseline && !first) return fail("the service lists no agent to use as the baseline: give --baseline agent:NAME");
      baseline ??= `agent:${first}`;
    }
    const contenders = contenderList(baseline, rivals);
    const outcome = await runEval({
      endpoint: args.endpoint,
      questions,
      questionsFile: args.questions,
      contenders,
      judge,
      outDir: args.out,
      ...(args.maxCostUsd ? { maxCostUsd: args.maxCostUsd } : {}),
      resume: args.resume,
      rejudge: args.rejudge,
      // The in-process mock is bounded by CPU, not by anyone's rate limit.
      concurrency: args.concurrency ?? (args.local && config.USE_LLM_MOCK ? 8 : 4),
      signal: controller.signal,
      progress: (total) => new Progress(process.stderr, total),
    });
    if (outcome.kind === "refused") return fail(outcome.message);
    process.stdout.write(`${terminalTable(outcome.summary.stats)}\n\n`);
    process.stdout.write(`Report: ${outcome.files.markdown}, ${outcome.files.html}; every answer and verdict: ${outcome.jsonl}\n`);
    if (outcome.kind === "interrupted") {
      process.stderr.write(`chorus eval: interrupted; continue with: chorus eval --resume --out ${args.out} (same options)\n`);
      return 130;
    }
    if (outcome.kind === "over_budget") {
      process.stderr.write(`chorus eval: the measured spend passed --max-cost-usd ${args.maxCostUsd}; no further call was started\n`);
      return 1;
    }
    return 0;
  } catch (e) {
    if (e instanceof QuestionsError || e instanceof ContenderError || e instanceof ServiceError || e instanceof ConfigError || e instanceof PromptError) return fail(e.message);
    if (controller.signal.aborted) return 130;
    throw e;
  } finally {
    process.off("SIGINT", onSigint);
    await local?.close();
  }
}
