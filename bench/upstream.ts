// The benchmark's mock OpenAI-compatible upstream, its own process on plain node:http. It streams
// `chat.completion.chunk` SSE on an absolute schedule (token i at ttft + i×delay, the end at
// ttft + tokens×delay, so timer drift never adds up), and records per bench run (the
// `[bench:<tag>]` in the user message) what each call was planned to take, so the orchestrator can
// compute a run's ideal time. Control: GET /stats, POST /reset, POST /config (JSON knobs).
//
//   node bench/dist/upstream.js --port 0 --ttft 300 --tokens 50 --delay 5 --tail-every 20 --tail-mult 10 \
//     [--tail-scope all|agents] [--fail-rate 0] [--seed 1]
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";

export interface Knobs {
  /** Time to first token (and to the response headers), ms. */
  ttftMs: number;
  /** Content tokens per completion. */
  tokens: number;
  /** Delay between tokens, ms (0: all at once). */
  tokenDelayMs: number;
  /** Heavy tail: 1 call in `tailEvery` (0: off) gets `tailMult`× the TTFT. */
  tailEvery: number;
  tailMult: number;
  /** Which calls the tail may hit: every call, or only the agents' (the summarizer always on time). */
  tailScope: "all" | "agents";
  /** Share of calls answered `500` after their TTFT (a call's retries draw the same dice: they fail too). */
  failRate: number;
  /** Salt of the per-call dice; the dice hash the run tag and caller, so both servers draw alike. */
  seed: number;
}

/** What one bench run cost upstream: each agent call's planned duration, the summarizer's. */
export interface RunStats {
  agents: number[];
  agentMults: number[];
  summarizer?: number;
  summarizerMult?: number;
  failed: number;
  /** How late this upstream finished its calls against their plan, worst call (ms): its own timer lag. */
  lateMs: number;
  /** Wall-clock ms (performance.timeOrigin + now, comparable across processes): the first agent call's
   * arrival, the last agent call's end, the summarizer call's arrival and end. */
  agentsAt?: number;
  agentsEndAt?: number;
  summarizerAt?: number;
  summarizerEndAt?: number;
}

export interface UpstreamStats {
  knobs: Knobs;
  calls: number;
  /** Request bytes received on /chat/completions: what the servers sent upstream. */
  bytesIn: number;
  completed: number;
  failed: number;
  aborted: number;
  /** Responses in progress now, and the most seen since the last reset. */
  open: number;
  maxOpen: number;
  /** TCP connections open now. */
  sockets: number;
  /** Wall-clock ms (performance.timeOrigin + now) of each abort since the last reset. */
  abortTimes: number[];
  runs?: Record<string, RunStats>;
}

const now = () => performance.timeOrigin + performance.now();
const TAG = /\[bench:([A-Za-z0-9_.:-]+)\]/;
const WORDS = ["The ", "answer ", "is ", "that ", "gravity ", "pulls ", "things ", "together, ", "gently ", "always. "];

/** FNV-1a: a call's dice from its run tag and caller, the same whichever server makes the call. */
function dice(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 2 ** 32;
}

/**
 * The text of token `i` for a caller: words, except that the council's reviewers end with the
 * FINAL RANKING block of every response they were shown, and the fusion judge answers one JSON
 * object, so that those stages parse what they get and do all their work, as with a real model.
 */
function answerFor(caller: string, user: string, tokens: number): (i: number) => string {
  const word = (i: number) => WORDS[i % WORDS.length]!;
  if (caller === "Reviewer") {
    const labels = [...new Set([...user.matchAll(/^### (Response [A-Z]+)$/gm)].map((m) => m[1]!))];
    const block = ["\n\nFINAL RANKING:\n", ...labels.map((l, k) => `${k + 1}. ${l}\n`)];
    const words = Math.max(0, tokens - block.length);
    return (i) => (i < words ? word(i) : (block[i - words] ?? ""));
  }
  if (caller === "Judge") {
    const agents = [...user.matchAll(/^### (\w+)$/gm)].map((m) => m[1]!);
    const json = JSON.stringify({
      consensus: [Array.from({ length: Math.max(1, tokens - 12) }, (_, k) => word(k)).join("").trim()],
      contradictions: [],
      unique_insights: agents.slice(0, 1).map((agent) => ({ agent, insight: "gravity is gentle" })),
      blind_spots: [],
    });
    const size = Math.ceil(json.length / tokens);
    return (i) => json.slice(i * size, (i + 1) * size);
  }
  return word;
}

interface ChatBody {
  model?: string;
  messages?: { role: string; content: string }[];
  stream_options?: { include_usage?: boolean };
}

export function startUpstream(knobs: Knobs, port = 0, host = "127.0.0.1") {
  let sockets = 0;
  let open = 0;
  let stats = fresh();
  let runs = new Map<string, RunStats>();
  let attempts = new Map<string, number>();
  let untagged = 0;
  function fresh() {
    return { calls: 0, bytesIn: 0, completed: 0, failed: 0, aborted: 0, maxOpen: open, abortTimes: [] as number[] };
  }

  const chat = (body: ChatBody, res: ServerResponse) => {
    const t0 = performance.now();
    const msgs = body.messages ?? [];
    const user = msgs.at(-1)?.content ?? "";
    const system = msgs.find((m) => m.role === "system")?.content ?? "";
    const isSummarizer = user.includes("## Agent answers");
    const caller = /You are the (\w+)/.exec(system)?.[1] ?? "?";
    const tag = TAG.exec(user)?.[1] ?? `untagged-${untagged++}`;
    // A repeated call (a hedge, a retry) is another draw of the tail's dice, as another replica
    // upstream would be; the first call of each run and caller draws alike for every server.
    const attempt = attempts.get(`${tag}:${caller}`) ?? 0;
    attempts.set(`${tag}:${caller}`, attempt + 1);
    const tail =
      knobs.tailEvery > 0 &&
      (knobs.tailScope !== "agents" || !isSummarizer) &&
      dice(`${knobs.seed}:tail:${tag}:${caller}${attempt ? `:${attempt}` : ""}`) < 1 / knobs.tailEvery;
    const mult = tail ? knobs.tailMult : 1;
    const fail = knobs.failRate > 0 && dice(`${knobs.seed}:fail:${tag}:${caller}`) < knobs.failRate;
    const ttft = knobs.ttftMs * mult;
    const { tokens, tokenDelayMs: delay } = knobs;

    let run = runs.get(tag);
    if (!run) runs.set(tag, (run = { agents: [], agentMults: [], failed: 0, lateMs: 0 }));
    const planned = ttft + (fail ? 0 : tokens * delay);
    const arrived = now();
    if (isSummarizer) {
      run.summarizer = planned;
      run.summarizerMult = mult;
      run.summarizerAt = arrived;
    } else {
      run.agents.push(planned);
      run.agentMults.push(mult);
      run.agentsAt = Math.min(run.agentsAt ?? arrived, arrived);
    }
    if (fail) run.failed++;

    stats.calls++;
    stats.maxOpen = Math.max(stats.maxOpen, ++open);
    const counted = stats;
    res.on("close", () => {
      open--;
      if (!res.writableFinished) {
        counted.aborted++;
        counted.abortTimes.push(now());
      }
    });

    const id = `chatcmpl-${stats.calls}`;
    const model = JSON.stringify(body.model ?? "bench");
    const head = `data: {"id":"${id}","object":"chat.completion.chunk","created":1,"model":${model},"choices":[`;
    const delta = (content: string) => `${head}{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":null}]}\n\n`;
    const say = answerFor(caller, user, tokens);
    const usage = body.stream_options?.include_usage;
    let i = 0;
    let started = false;
    let timer: NodeJS.Timeout | undefined;
    res.on("close", () => clearTimeout(timer));

    // Sends everything due by now, then sleeps until the next item's absolute time (1 ms slack:
    // a timer may fire a fraction of a millisecond before performance.now() says it is due).
    const step = () => {
      if (res.destroyed) return;
      const elapsed = performance.now() - t0 + 1;
      if (!started) {
        started = true;
        if (fail) {
          counted.failed++;
          res.writeHead(500, { "content-type": "application/json" });
          res.end('{"error":{"message":"bench upstream failure","type":"server_error"}}');
          return;
        }
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        res.write(`${head}{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n`);
      }
      while (i < tokens && (delay === 0 || ttft + i * delay <= elapsed)) res.write(delta(say(i++)));
      const next = i < tokens ? ttft + i * delay : ttft + tokens * delay;
      if (next > elapsed) {
        timer = setTimeout(step, next - elapsed + 1);
        return;
      }
      res.write(`${head}{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n`);
      if (usage) {
        res.write(
          `data: {"id":"${id}","object":"chat.completion.chunk","created":1,"model":${model},"choices":[],` +
            `"usage":{"prompt_tokens":100,"completion_tokens":${tokens},"total_tokens":${100 + tokens}}}\n\n`,
        );
      }
      res.end("data: [DONE]\n\n");
      counted.completed++;
      run.lateMs = Math.max(run.lateMs, performance.now() - t0 - planned);
      if (isSummarizer) run.summarizerEndAt = now();
      else run.agentsEndAt = Math.max(run.agentsEndAt ?? 0, now());
    };
    if (ttft > 0) timer = setTimeout(step, ttft);
    else setImmediate(step);
  };

  const json = (res: ServerResponse, status: number, value: unknown) => {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const url = req.url ?? "/";
    if (req.method === "POST" && url.endsWith("/chat/completions")) {
      stats.bytesIn += Buffer.byteLength(raw);
      return chat(JSON.parse(raw) as ChatBody, res);
    }
    if (req.method === "GET" && url.endsWith("/models")) {
      return json(res, 200, { object: "list", data: [{ id: "bench", object: "model", created: 1, owned_by: "bench" }] });
    }
    if (req.method === "GET" && url.startsWith("/stats")) {
      const out: UpstreamStats = { knobs, ...stats, open, sockets };
      if (url.includes("runs=1")) out.runs = Object.fromEntries(runs);
      return json(res, 200, out);
    }
    if (req.method === "POST" && url === "/reset") {
      stats = fresh();
      runs = new Map();
      attempts = new Map();
      untagged = 0;
      return json(res, 200, { ok: true });
    }
    if (req.method === "POST" && url === "/config") {
      Object.assign(knobs, JSON.parse(raw || "{}") as Partial<Knobs>);
      return json(res, 200, knobs);
    }
    json(res, 404, { error: { message: `no route ${req.method} ${url}` } });
  };

  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      try {
        handle(req, res, Buffer.concat(parts).toString("utf8"));
      } catch {
        if (!res.headersSent) json(res, 400, { error: { message: "bad request" } });
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on("connection", (s) => {
    sockets++;
    s.on("close", () => sockets--);
  });
  return new Promise<{ port: number; close: () => void }>((resolve) => {
    server.listen(port, host, () => resolve({ port: (server.address() as AddressInfo).port, close: () => server.close() }));
  });
}

const { values: v } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    ttft: { type: "string", default: "0" },
    tokens: { type: "string", default: "20" },
    delay: { type: "string", default: "0" },
    "tail-every": { type: "string", default: "0" },
    "tail-mult": { type: "string", default: "1" },
    "tail-scope": { type: "string", default: "all" },
    "fail-rate": { type: "string", default: "0" },
    seed: { type: "string", default: "1" },
  },
});
const { port } = await startUpstream(
  {
    ttftMs: Number(v.ttft),
    tokens: Number(v.tokens),
    tokenDelayMs: Number(v.delay),
    tailEvery: Number(v["tail-every"]),
    tailMult: Number(v["tail-mult"]),
    tailScope: v["tail-scope"] === "agents" ? "agents" : "all",
    failRate: Number(v["fail-rate"]),
    seed: Number(v.seed),
  },
  Number(v.port),
);
process.stdout.write(`upstream listening on ${port}\n`);
