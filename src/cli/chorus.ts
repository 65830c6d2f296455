#!/usr/bin/env node
// `chorus "your question"`: the command-line client. Starts a run with POST /api/process (or
// follows one with --resume; --conversation continues a conversation), shows it as it streams,
// resumes from the last event id if the connection drops, stops the run (DELETE) on Ctrl-C, and
// exits 0 on `done`, 1 on a run `error`, 2 when there is no run (refused, unreachable, bad usage).
// Node built-ins only; `chorus eval` (src/eval/) is loaded only when asked for.
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { parseEvent } from "../run/events.js";
import { HumanView, JsonView, type RunEvent, type RunView } from "./run-view.js";
import { sseFrames } from "./sse-frames.js";
import { stopOnInterrupt } from "./stop-on-interrupt.js";

const USAGE = `Usage: chorus [options] "your question"
       chorus --resume --id MESSAGE_ID [--last-event-id N]
       chorus eval [options]     (is the council worth it? see chorus eval --help)

Asks every Chorus agent, shows each one finish, then streams the summary.
Follow-up questions: give each one the same --conversation ID, e.g.
  chorus --conversation trip "Where should I go?"
  chorus --conversation trip "And in winter?"

Options:
  --url URL           Chorus base URL (default: $CHORUS_URL, else the server's own
                      $HTTP_ADDR as in .env, else http://127.0.0.1:8080)
  --key KEY           API key, sent as a Bearer token (default: $CHORUS_API_KEY)
  --id ID             message_id of the run (default: a new cli-<uuid>)
  --agents a,b        ask only these agents
  --preset NAME       start from this preset (GET /api/presets): default, council, fusion, deep, fast, …
  --strategy S        how the answers are combined: summarize, council (agents rank each
                      other's answers) or fusion (a judge maps agreement and dissent)
  --rounds N          mixture-of-agents rounds, 1-4: each round's agents read the last one's answers
  --max-cost USD      refuse the run if its worst-case cost is above USD; stop it if it gets there
  --dry-run           show the plan and its worst-case cost, call no LLM
  --conversation ID   continue conversation ID (1-128 of A-Z a-z 0-9 _ - . :): the agents
                      and the summary see its earlier questions and answers; a new ID
                      starts a new conversation
  --json              print each event as one JSON line {"id","event","data"}
  --resume            follow the existing run --id from its first event
  --last-event-id N   with --resume: only the events after N
  -h, --help          show this help

Ctrl-C stops the run (DELETE /api/process/ID) and shows how it ended; a second Ctrl-C quits
at once. A dropped connection is resumed from the last event seen.

Exit status: 0 the run finished (ok or partial); 1 the run ended with an error event
(cancelled by Ctrl-C included); 2 no run: the request was refused, the server could not be
reached, or bad usage; 130 quit by a second Ctrl-C.
`;

const EXIT = { done: 0, runError: 1, noRun: 2, interrupted: 130 } as const;
const MAX_RESUMES = 5; // after a dropped connection, with a growing pause between them

class UsageError extends Error {}

interface Options {
  url: string;
  /** Where the URL came from, for the hint when it cannot be reached. */
  urlFrom: "--url" | "CHORUS_URL" | "HTTP_ADDR" | "default";
  key?: string;
  id: string;
  question: string;
  agents?: string[];
  conversation?: string;
  /** The request's preset, strategy, rounds, max_cost_usd and dry_run fields, as given. */
  plan: Record<string, unknown>;
  dryRun: boolean;
  json: boolean;
  resume: boolean;
  lastEventId: number;
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: "string" },
        key: { type: "string" },
        id: { type: "string" },
        agents: { type: "string" },
        conversation: { type: "string" },
        preset: { type: "string" },
        strategy: { type: "string" },
        rounds: { type: "string" },
        "max-cost": { type: "string" },
        "dry-run": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        resume: { type: "boolean", default: false },
        "last-event-id": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return "help";
  const question = parsed.positionals.join(" ");
  if (v.resume && !v.id) throw new UsageError("--resume needs --id MESSAGE_ID");
  if (v.resume && question) throw new UsageError("--resume follows an existing run: give no question");
  if (!v.resume && !question.trim()) throw new UsageError("give a question, e.g. chorus \"Explain gravity like I am 5\"");
  if (v.resume && v.conversation !== undefined) throw new UsageError("--conversation starts a run: it does not go with --resume");
  if (v.conversation !== undefined && !v.conversation) throw new UsageError("--conversation needs an ID, e.g. --conversation trip");
  if (v["last-event-id"] !== undefined && !v.resume) throw new UsageError("--last-event-id goes with --resume");
  const lastEventId = v["last-event-id"] ?? "0";
  if (!/^\d{1,15}$/.test(lastEventId)) throw new UsageError("--last-event-id must be a non-negative integer");
  const agents = v.agents?.split(",").map((a) => a.trim()).filter(Boolean);
  if (v.resume && (v.preset || v.strategy || v.rounds || v["max-cost"] || v["dry-run"])) {
    throw new UsageError("--preset, --strategy, --rounds, --max-cost and --dry-run start a run: they do not go with --resume");
  }
  if (v.rounds !== undefined && !/^[1-4]$/.test(v.rounds)) throw new UsageError("--rounds must be 1, 2, 3 or 4");
  if (v["max-cost"] !== undefined && !(Number(v["max-cost"]) > 0)) throw new UsageError("--max-cost must be a positive number of USD, e.g. 0.05");
  // The server validates the names (preset, strategy) and answers with the accepted ones.
  const plan = {
    ...(v.preset ? { preset: v.preset } : {}),
    ...(v.strategy ? { strategy: v.strategy } : {}),
    ...(v.rounds ? { rounds: Number(v.rounds) } : {}),
    ...(v["max-cost"] ? { max_cost_usd: Number(v["max-cost"]) } : {}),
  };
  const [url, urlFrom] = serverUrl(v.url, env);
  return {
    url,
    urlFrom,
    key: v.key ?? (env.CHORUS_API_KEY || undefined),
    id: v.id ?? `cli-${randomUUID()}`,
    question,
    ...(agents?.length ? { agents } : {}),
    ...(v.conversation ? { conversation: v.conversation } : {}),
    plan,
    dryRun: v["dry-run"],
    json: v.json,
    resume: v.resume,
    lastEventId: Number(lastEventId),
  };
}

/**
 * The server to ask: --url, else CHORUS_URL, else the address the server listens on (HTTP_ADDR,
 * which `make ask` loads from .env), with a wildcard host (":8080", "0.0.0.0:8080") as loopback.
 */
function serverUrl(flag: string | undefined, env: NodeJS.ProcessEnv): [string, Options["urlFrom"]] {
  const trim = (u: string) => u.replace(/\/+$/, "");
  if (flag) return [trim(flag), "--url"];
  if (env.CHORUS_URL) return [trim(env.CHORUS_URL), "CHORUS_URL"];
  const addr = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/.exec(env.HTTP_ADDR ?? "");
  if (addr) {
    const host = ["", "0.0.0.0", "[::]"].includes(addr[1]!) ? "127.0.0.1" : addr[1];
    return [`http://${host}:${addr[2]}`, "HTTP_ADDR"];
  }
  return ["http://127.0.0.1:8080", "default"];
}

/** How to point the CLI elsewhere, after a failed connection. */
function reachHint(o: Options): string {
  const from = o.urlFrom === "default" ? "the default" : `from ${o.urlFrom}`;
  return `(${from}); is Chorus running there? Start it with \`make run\`, or point the CLI at it with --url, CHORUS_URL=http://host:port, or HTTP_ADDR=host:port (as in .env)`;
}

/** The contract's JSON error, as one or a few lines for stderr. */
async function describeHttpError(res: Response): Promise<string> {
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string; details?: { field: string; message: string }[] } } | null;
  const e = body?.error;
  if (!e?.message) return `HTTP ${res.status} ${res.statusText}`.trim();
  let text = `${res.status} ${e.code}: ${e.message}`;
  // The message names the first field; list the rest when there are more.
  if (Array.isArray(e.details) && e.details.length > 1) text += e.details.map((d) => `\n  ${d.field}: ${d.message}`).join("");
  return text;
}

/** A dry run's plan and estimate: the JSON as it came with --json, else a few lines. */
function dryRunText(body: { plan: { preset: string; strategy: string; rounds: number; agents: string[]; calls: number }; estimate: { prompt_tokens: number; completion_tokens: number; cost_usd: number | null } }, json: boolean): string {
  if (json) return `${JSON.stringify(body)}\n`;
  const { plan, estimate } = body;
  const cost = estimate.cost_usd === null ? "unknown (a model has no price)" : `$${estimate.cost_usd.toFixed(6)}`;
  return [
    `plan: preset ${plan.preset} · ${plan.strategy} · ${plan.rounds} round${plan.rounds === 1 ? "" : "s"} · agents ${plan.agents.join(", ")} · ${plan.calls} calls`,
    `worst case: ${cost} (${estimate.prompt_tokens} prompt + ${estimate.completion_tokens} completion tokens); nothing was called`,
    "",
  ].join("\n");
}

const isEventStream = (res: Response) => (res.headers.get("content-type") ?? "").startsWith("text/event-stream");

async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let opts: Options | "help";
  try {
    opts = parseOptions(argv, env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`chorus: ${e.message}\n\n${USAGE}`);
    return EXIT.noRun;
  }
  if (opts === "help") {
    process.stdout.write(USAGE);
    return EXIT.done;
  }
  const o = opts;
  const auth: Record<string, string> = o.key ? { authorization: `Bearer ${o.key}` } : {};
  const follow = (afterId: number) =>
    fetch(`${o.url}/api/process/${encodeURIComponent(o.id)}/events`, { headers: { ...auth, "last-event-id": String(afterId) } });
  const start = () =>
    o.resume
      ? follow(o.lastEventId)
      : fetch(`${o.url}/api/process`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({
            message: o.question,
            message_id: o.id,
            ...(o.agents ? { agents: o.agents } : {}),
            ...(o.conversation ? { conversation_id: o.conversation } : {}),
            ...o.plan,
            ...(o.dryRun ? { dry_run: true } : {}),
          }),
        });

  const view: RunView = o.json ? new JsonView(process.stdout) : new HumanView(process.stdout, process.stderr);
  /** No run result: tidy the view first, so the message lands below the agents' lines. */
  const noRun = (message: string) => {
    view.close();
    process.stderr.write(`chorus: ${message}\n`);
    return EXIT.noRun;
  };
  let lastId = o.lastEventId;
  const releaseInterrupt = stopOnInterrupt(`${o.url}/api/process/${encodeURIComponent(o.id)}`, auth, o.id, () => {
    view.close();
    process.exit(EXIT.interrupted);
  });
  try {
    // The first request, then resumes while the stream breaks before the run ends.
    for (let attempt = 0; attempt <= MAX_RESUMES; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 250 * attempt));
      let res: Response;
      try {
        res = await (attempt === 0 ? start() : follow(lastId));
      } catch (e) {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        // The server behind the URL may be restarting or replaced: a resume tries again.
        if (attempt > 0 && attempt < MAX_RESUMES) continue;
        return noRun(`cannot reach ${o.url}: ${cause?.code ?? cause?.message ?? (e as Error).message} ${reachHint(o)}`);
      }
      if (o.dryRun && res.ok && !isEventStream(res)) {
        view.close();
        process.stdout.write(dryRunText(await res.json(), o.json));
        return EXIT.done;
      }
      if (!res.ok || !res.body || !isEventStream(res)) return noRun(await describeHttpError(res));
      let received = 0;
      try {
        for await (const frame of sseFrames(res.body)) {
          received++;
          const id = Number(frame.id);
          if (Number.isInteger(id) && id > 0) {
            if (id <= lastId) continue;
            lastId = id;
          }
          // Checked against the contract's schemas: an event this client does not know is skipped.
          let ev: RunEvent | undefined;
          try {
            ev = parseEvent(id, frame.event, JSON.parse(frame.data));
          } catch {
            ev = undefined;
          }
          if (ev) view.show(ev);
          if (frame.event === "done") return EXIT.done;
          if (frame.event === "error") return EXIT.runError;
        }
      } catch {
        // The connection broke mid-stream: resume below.
        continue;
      }
      // The server closed the stream cleanly with nothing after our id: the run ended before it.
      if (received === 0) return noRun(`run ${o.id} has no events after id ${lastId}`);
    }
    return noRun(
      `the connection to ${o.url} kept dropping; the run's outcome is unknown (try --resume --id ${o.id} --last-event-id ${lastId})`,
    );
  } finally {
    releaseInterrupt();
    view.close();
  }
}

// `chorus … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});
const argv = process.argv.slice(2);
if (argv[0] === "eval") {
  // Loaded only for `chorus eval`: asking a question stays light.
  const { evalCommand } = await import("../eval/eval-command.js");
  process.exitCode = await evalCommand(argv.slice(1));
} else {
  process.exitCode = await main(argv);
}
