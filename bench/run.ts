// The benchmark's orchestrator (`make bench`): starts the mock upstream, Chorus (dist/index.js) and
// the naive reference, pins the servers under test to core 0 and the load generators (upstream,
// driver) to core 1, runs the scenarios against the servers side by side, repeated, and writes
// bench/results/latest.{json,md} (and node-<major>.{json,md} after a complete default run). Every
// child runs on this process's node binary, so `NODE_BIN=/path/to/node24 make bench` benchmarks Node 24.
//
//   node bench/dist/run.js [--quick] [--reps 3] [--only a,b,c,d,scale,strategies,size,redis,profile] [--dist path/to/dist]
//   (parts of b alone: --only e (c=10), b200, b400)
//   --quick: a tenth of the runs, 1 repetition; --dist: benchmark another Chorus build (to compare).
// At the end it prints each target of issue 16 with its figure, ratio and ok/short.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { DriverMessage, HoldOptions, LoadOptions, LoadResult, RunResult } from "./driver.js";
export type { LoadOptions };
import { summarizeProfile, type ProfileSummary } from "./profile.js";
import { redisDelta, startBenchRedis } from "./redis.js";
import { Targets } from "./targets.js";
import type { Knobs, UpstreamStats } from "./upstream.js";

const here = dirname(fileURLToPath(import.meta.url)); // bench/dist
const ALL = "a,b,c,d,scale,strategies,size,redis,profile";
const root = resolve(here, "../..");
const NODE = process.execPath;
const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    reps: { type: "string" },
    only: { type: "string", default: ALL },
    /** The Chorus build to benchmark (to compare builds): a dist/ folder beside its package.json. */
    dist: { type: "string" },
    /** Another build to run beside it in a and b, as "chorus base" (for before/after in one run). */
    base: { type: "string" },
  },
});
const quick = args.quick!;
const REPS = Number(args.reps ?? (quick ? 1 : 3));
/** The 2,000-stream hold is slow to set up: fewer repetitions (each with 5 one-client aborts). */
const D_REPS = 1;
const only = new Set(args.only!.split(","));
const distDir = resolve(args.dist ?? join(root, "dist"));
/** Run counts: the full bench, or a tenth of it for a quick look while developing. */
const n = (full: number) => (quick ? Math.max(10, Math.round(full / 10)) : full);

// ---------- the machine ----------

const PIN = availableParallelism() >= 2 && spawnSync("taskset", ["-c", "0", "true"]).status === 0;
const SERVER_CORE = 0;
const LOADGEN_CORE = 1;
const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
const machine = {
  nproc: availableParallelism(),
  cpu: /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "?",
  node: process.version,
  nodeBin: NODE,
  loadavg: loadavg().map((x) => Number(x.toFixed(2))),
  loadavgEnd: [] as number[],
  chorus: distDir,
  pinned: PIN ? `servers on core ${SERVER_CORE}, upstream and driver on core ${LOADGEN_CORE} (taskset)` : "no pinning",
  date: new Date().toISOString(),
};

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
}

// ---------- processes ----------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer().once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

function pinned(core: number, argv: string[]): [string, string[]] {
  return PIN ? ["taskset", ["-c", String(core), ...argv]] : [argv[0]!, argv.slice(1)];
}

/** A child process: a server (Chorus, naive, upstream) with the tail of its output kept for errors. */
class Proc {
  out = "";
  readonly exited: Promise<void>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    const keep = (d: Buffer) => (this.out = (this.out + d.toString()).slice(-4000));
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((r) => child.once("exit", () => r()));
  }
  get pid(): number {
    return this.child.pid!;
  }
  async ready(path: string): Promise<this> {
    for (const t0 = Date.now(); Date.now() - t0 < 20_000; await sleep(50)) {
      if (this.child.exitCode !== null) break;
      if (await fetch(this.url + path).then(() => true, () => false)) return this;
    }
    throw new Error(`${this.name} did not start:\n${this.out}`);
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const killer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await this.exited;
    clearTimeout(killer);
  }
}

const procs = new Set<Proc>();
/**
 * Chorus runs from a snapshot of dist/ taken at the start (others may rebuild or clean dist/ while
 * the bench runs), beside links to what it reads relative to itself, in a folder with no .env: only
 * the settings given below count.
 */
function snapshot(dist: string): string {
  const dir = mkdtempSync(join(tmpdir(), "chorus-bench-"));
  cpSync(dist, join(dir, "dist"), { recursive: true });
  for (const f of ["package.json", "public", "node_modules", "prompts"]) {
    const from = join(dist, "..", f);
    if (existsSync(from)) symlinkSync(resolve(from), join(dir, f));
  }
  return dir;
}
const work = snapshot(distDir);
/** --base: another build, run beside this one in scenarios a and b (to compare two builds in one run). */
const baseWork = args.base ? snapshot(resolve(args.base)) : undefined;
function launch(name: string, core: number, argv: string[], env: Record<string, string>, port: number, cwd = root) {
  const [cmd, rest] = pinned(core, argv);
  // A clean environment: nothing set in this shell (or Chorus's .env, see cwd) changes the servers.
  const child = spawn(cmd, rest, { cwd, env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const p = new Proc(name, child, `http://127.0.0.1:${port}`);
  procs.add(p);
  return p;
}
const stopAll = () => Promise.all([...procs].map((p) => p.stop()));
process.on("SIGINT", () => void stopAll().then(() => process.exit(130)));

// ---------- the upstream ----------

const REALISTIC: Partial<Knobs> = { ttftMs: 300, tokens: 50, tokenDelayMs: 5, tailEvery: 0, tailMult: 1, tailScope: "all", failRate: 0 };
const ZERO: Partial<Knobs> = { ...REALISTIC, ttftMs: 0, tokens: 20, tokenDelayMs: 0 };
/** As issue 16's scenario c: 1 call in 20 (the summarizer's too) has 10× the TTFT. */
const TAIL: Partial<Knobs> = { ...REALISTIC, tailEvery: 20, tailMult: 10, tailScope: "all" };
/** Streams that stay open: a first token after 500 ms (so each call is mid-stream), then one every 10 s. */
const SLOW: Partial<Knobs> = { ...REALISTIC, ttftMs: 500, tokens: 1_000_000, tokenDelayMs: 10_000 };
/** The fan-out deadline of issue 16's scenario c. */
const DEADLINE_MS = 1500;

let upstream: Proc;
const post = (path: string, body: unknown = {}) =>
  fetch(upstream.url + path, { method: "POST", body: JSON.stringify(body) }).then((r) => r.json());
const upstreamStats = (runs = false): Promise<UpstreamStats> =>
  fetch(`${upstream.url}/stats${runs ? "?runs=1" : ""}`).then((r) => r.json() as Promise<UpstreamStats>);
async function configure(knobs: Partial<Knobs>) {
  await post("/config", knobs);
  await post("/reset");
}

// ---------- the servers under test ----------

async function startChorus(name: string, extra: Record<string, string> = {}, nodeFlags: string[] = [], dir = work) {
  const port = await freePort();
  const env = {
    HTTP_ADDR: `127.0.0.1:${port}`,
    PRODUCTION: "true",
    LOG_LEVEL: "warn",
    USE_LLM_MOCK: "false",
    LLM_BASE_URL: `${upstream.url}/v1`,
    LLM_KEY: "x",
    LLM_MODEL: "bench",
    // The build's own prompts (a --base build may not read today's files).
    PROMPTS_DIR: join(dir, "prompts"),
    RATE_LIMIT_POINTS: "1000000000",
    MAX_CONCURRENT_LLM_CALLS: "100000",
    MAX_QUEUED_RUNS: "100000",
    MAX_STREAMS_PER_CLIENT: "1000000",
    SHUTDOWN_GRACE_MS: "1000",
    ...extra,
  };
  const p = launch(name, SERVER_CORE, [NODE, ...nodeFlags, join(dir, "dist/index.js")], env, port, dir);
  return p.ready("/health");
}

async function startNaive() {
  const port = await freePort();
  const env = { PORT: String(port), LLM_BASE_URL: `${upstream.url}/v1`, LLM_KEY: "x", LLM_MODEL: "bench", PROMPTS_DIR: join(root, "prompts") };
  return launch("naive", SERVER_CORE, [NODE, join(here, "naive.js")], env, port).ready("/");
}

// ---------- the driver ----------

function startDriver(opts: LoadOptions | HoldOptions) {
  const [cmd, rest] = pinned(LOADGEN_CORE, [NODE, join(here, "driver.js"), JSON.stringify(opts)]);
  const child = spawn(cmd, rest, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const next = () =>
    new Promise<DriverMessage>((resolve, reject) => {
      child.once("message", (m) => resolve(m as DriverMessage));
      void exited.then(() => reject(new Error("the driver exited early")));
    });
  return { child, next, exited };
}

async function drive(opts: Omit<LoadOptions, "mode">): Promise<LoadResult> {
  const d = startDriver({ mode: "load", ...opts });
  const m = await d.next();
  await d.exited;
  if (m.type !== "result") throw new Error(`driver: unexpected ${m.type}`);
  return m.result;
}

// ---------- statistics ----------

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = ((s.length - 1) * p) / 100;
  const lo = Math.floor(i);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (i - lo);
}

/**
 * Steady-state runs/s: completions between the first and the last one, so the ramp-up (no run has
 * finished yet) does not count. The drain at the end is kept: a saturated server stays saturated.
 */
function throughput(done: RunResult[]): number {
  const ends = done.map((x) => x.startMs + x.doneMs!);
  return done.length < 2 ? NaN : ((done.length - 1) * 1000) / (Math.max(...ends) - Math.min(...ends));
}

/** One load run against one server, with the upstream's view of each bench run. */
interface LoadRep {
  runs: number;
  /** Calls and request bytes the upstream received, per run. */
  upstreamCallsPerRun: number;
  upstreamBytesPerRun: number;
  ok: number;
  partial: number;
  failed: number;
  runsPerS: number;
  serverCpuMsPerRun: number;
  /** Share of the load-generator core used by the upstream and the driver (near 1: they limit). */
  loadgenBusy: number;
  e2e: number[];
  /** e2e of the runs started after the first 2 × concurrency: past the cold start (new connections, one synchronized wave). */
  e2eSteady: number[];
  ideal: number[];
  overhead: number[];
  headers: number[];
  /** The upstream's own lag behind its plan, worst call per run (part of `overhead` that is not the server's). */
  upstreamLate: number[];
  /** Where the overhead goes, per run: request → first agent call at the upstream; last agent answer →
   * summarizer call at the upstream; summarizer's end → `done` at the client. */
  gaps: { toAgents: number[]; fanIn: number[]; toClient: number[] };
}

async function loadRep(server: Proc, concurrency: number, count: number, tagPrefix: string, more: Partial<LoadOptions> = {}): Promise<LoadRep> {
  await post("/reset");
  const s0 = cpuMs(server.pid);
  const u0 = cpuMs(upstream.pid);
  const r = await drive({ url: server.url, concurrency, count, tagPrefix, ...more });
  const s1 = cpuMs(server.pid);
  const u1 = cpuMs(upstream.pid);
  const stats = await upstreamStats(true);
  const done = r.runs.filter((x: RunResult) => x.status === "ok" || x.status === "partial");
  const e2e: number[] = [];
  const ideal: number[] = [];
  const overhead: number[] = [];
  const upstreamLate: number[] = [];
  const gaps: LoadRep["gaps"] = { toAgents: [], fanIn: [], toClient: [] };
  for (const x of done) {
    const u = stats.runs?.[x.tag];
    e2e.push(x.doneMs!);
    if (!u || u.summarizer === undefined || !u.agents.length) continue;
    const i = Math.max(...u.agents) + u.summarizer;
    ideal.push(i);
    overhead.push(x.doneMs! - i);
    upstreamLate.push(u.lateMs);
    if (u.agentsAt && u.agentsEndAt && u.summarizerAt && u.summarizerEndAt) {
      gaps.toAgents.push(u.agentsAt - x.startAt);
      gaps.fanIn.push(u.summarizerAt - u.agentsEndAt);
      gaps.toClient.push(x.startAt + x.doneMs! - u.summarizerEndAt);
    }
  }
  return {
    runs: r.runs.length,
    upstreamCallsPerRun: stats.calls / r.runs.length,
    upstreamBytesPerRun: stats.bytesIn / r.runs.length,
    ok: done.length,
    partial: done.filter((x) => x.status === "partial").length,
    failed: r.runs.length - done.length,
    runsPerS: throughput(done),
    serverCpuMsPerRun: (s1 - s0) / r.runs.length,
    loadgenBusy: (u1 - u0 + r.cpuMs) / r.wallMs,
    e2e,
    e2eSteady: [...done]
      .sort((a, b) => a.startMs - b.startMs)
      .slice(2 * concurrency)
      .map((x) => x.doneMs!),
    ideal,
    overhead,
    headers: done.map((x) => x.headersMs!),
    upstreamLate,
    gaps,
  };
}

// ---------- results ----------

type Values = Record<string, number[]>; // server label → one value per repetition
interface Row {
  scenario: string;
  metric: string;
  unit: string;
  left: string;
  right: string;
  values: Values;
}
const rows: Row[] = [];
const raw: Record<string, unknown> = {};
const notes: string[] = [];

const fmt = (x: number) =>
  !Number.isFinite(x) ? "–" : Number.isInteger(x) ? String(x) : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);
const cell = (xs: number[]) => {
  if (!xs.length) return "–";
  const s = [...xs].sort((a, b) => a - b);
  return xs.length === 1 ? fmt(s[0]!) : `${fmt(pct(s, 50))} (${fmt(s[0]!)}–${fmt(s.at(-1)!)})`;
};
const ratio = (a: number[], b: number[]) => {
  const r = pct(a, 50) / pct(b, 50);
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : "–";
};
const HEADER = "| scenario | metric | Chorus: median (min–max) | naive: median (min–max) | Chorus/naive |\n|---|---|---|---|---|";
function rowLine(r: Row) {
  const l = r.values[r.left] ?? [];
  const rt = r.values[r.right] ?? [];
  const label = r.left === "chorus" ? "" : ` [${r.left}]`;
  return `| ${r.scenario} | ${r.metric} (${r.unit})${label} | ${cell(l)} | ${cell(rt)} | ${ratio(l, rt)} |`;
}

/** Adds a row from per-repetition values and prints it at once. */
function row(scenario: string, metric: string, unit: string, values: Values, left = "chorus", right = "naive"): Values {
  const r = { scenario, metric, unit, left, right, values };
  rows.push(r);
  console.log(rowLine(r));
  if (left === "chorus" && values["chorus base"]) {
    const vsBase = { scenario, metric, unit, left: "chorus", right: "chorus base", values };
    rows.push(vsBase);
    console.log(`${rowLine(vsBase)} (this build ÷ --base)`);
  }
  return values;
}
const targets = new Targets();

/** Runs a load scenario: every repetition visits each server in turn (so noise hits them alike). */
async function loadScenario(
  key: string,
  servers: Record<string, Proc>,
  concurrency: number,
  count: number,
  more: Partial<LoadOptions> | Record<string, Partial<LoadOptions>> = {},
  reps_ = REPS,
) {
  const reps: Record<string, LoadRep[]> = Object.fromEntries(Object.keys(servers).map((s) => [s, []]));
  // `more` is either for every server, or per server label (the variants of one Chorus).
  const moreFor = (label: string): Partial<LoadOptions> => (label in more ? (more as Record<string, Partial<LoadOptions>>)[label]! : (more as Partial<LoadOptions>));
  for (let rep = 0; rep < reps_; rep++) {
    // The same tags for every server within a repetition: the upstream's dice pick the same slow calls.
    for (const [label, p] of Object.entries(servers)) reps[label]!.push(await loadRep(p, concurrency, count, `${key}.${rep}`, moreFor(label)));
  }
  raw[key] = Object.fromEntries(
    Object.entries(reps).map(([s, rs]) => [
      s,
      rs.map(({ e2e, e2eSteady, ideal, overhead, headers, upstreamLate, gaps, ...rest }) => ({
        ...rest,
        e2e: { p50: pct(e2e, 50), p99: pct(e2e, 99) },
        e2eSteady: { p50: pct(e2eSteady, 50), p99: pct(e2eSteady, 99) },
        ideal: { p50: pct(ideal, 50), p99: pct(ideal, 99) },
        overhead: { p50: pct(overhead, 50), p99: pct(overhead, 99) },
        headers: { p50: pct(headers, 50), p99: pct(headers, 99) },
        upstreamLate: { p50: pct(upstreamLate, 50), p99: pct(upstreamLate, 99) },
        gaps: Object.fromEntries(Object.entries(gaps).map(([k, v]) => [k, { p50: pct(v, 50), p99: pct(v, 99) }])),
      })),
    ]),
  );
  const each = (f: (r: LoadRep) => number): Values => Object.fromEntries(Object.entries(reps).map(([s, rs]) => [s, rs.map(f)]));
  const busiest = Math.max(...Object.values(reps).flat().map((r) => r.loadgenBusy));
  if (busiest > 0.85) notes.push(`${key}: the load-generator core was ${Math.round(busiest * 100)}% busy: the numbers may be capped by the upstream/driver.`);
  const failed = Object.entries(reps).flatMap(([s, rs]) => (rs.some((r) => r.failed) ? [`${s}: ${rs.map((r) => r.failed).join("/")}`] : []));
  if (failed.length) notes.push(`${key}: runs that did not end with done: ${failed.join("; ")}.`);
  return each;
}

// ---------- scenarios ----------

async function warm(servers: Proc[]) {
  await configure(ZERO);
  for (const s of servers) await drive({ url: s.url, concurrency: 20, count: n(200), tagPrefix: "warm" });
}

async function scenarioA(servers: Record<string, Proc>) {
  await configure(ZERO);
  const S = "a. zero-latency upstream (20 tokens), c=50";
  const each = await loadScenario("a", servers, 50, n(800));
  row(S, "throughput", "runs/s", each((r) => r.runsPerS));
  const cpu = row(S, "server CPU per run", "ms", each((r) => r.serverCpuMsPerRun));
  row(S, "e2e p50", "ms", each((r) => pct(r.e2e, 50)));
  row(S, "e2e p99", "ms", each((r) => pct(r.e2e, 99)));
  targets.ratio("a. CPU per run", "ms", cpu.chorus!, cpu.naive!, "≤", 0.6);
}

async function scenarioB(servers: Record<string, Proc>) {
  await configure(REALISTIC);
  let S = "b/e. realistic upstream (300 ms TTFT, 50 tokens × 5 ms), c=10";
  let each: Awaited<ReturnType<typeof loadScenario>>;
  if (only.has("b") || only.has("e")) {
    each = await loadScenario("b10", servers, 10, n(200));
    const p50 = row(S, "overhead p50 (e2e − ideal)", "ms", each((r) => pct(r.overhead, 50)));
    const p99 = row(S, "overhead p99 (e2e − ideal)", "ms", each((r) => pct(r.overhead, 99)));
    row(S, "overhead part: request → first agent call p50", "ms", each((r) => pct(r.gaps.toAgents, 50)));
    row(S, "overhead part: last agent answer → summarizer call p50", "ms", each((r) => pct(r.gaps.fanIn, 50)));
    row(S, "overhead part: summarizer's end → done at client p50", "ms", each((r) => pct(r.gaps.toClient, 50)));
    row(S, "overhead part: the upstream's own lag p50", "ms", each((r) => pct(r.upstreamLate, 50)));
    row(S, "time to headers p50", "ms", each((r) => pct(r.headers, 50)));
    row(S, "server CPU per run", "ms", each((r) => r.serverCpuMsPerRun));
    targets.ratio("e. overhead p50 (b at c=10)", "ms", p50.chorus!, p50.naive!, "≤", 0.6);
    targets.ratio("e. overhead p99 (b at c=10)", "ms", p99.chorus!, p99.naive!, "≤", 0.6);
  }
  // On a fast core both servers keep up with c=200 (≈ 180 runs/s, the latency bound): the
  // issue's "CPU-bound" regime needs more runs in flight there. Reported beside c=200, not instead.
  let cpuBound: Values = {};
  for (const b of [
    { key: "b200", c: 200, runs: n(1200), label: "c=200" },
    { key: "b400", c: 400, runs: n(1600), label: "c=400, CPU-bound" },
  ].filter((b) => only.has("b") || only.has(b.key))) {
    S = `b. realistic upstream, c=${b.c}`;
    each = await loadScenario(b.key, servers, b.c, b.runs);
    const tput = row(S, "throughput", "runs/s", each((r) => r.runsPerS));
    const cpu = row(S, "server CPU per run", "ms", each((r) => r.serverCpuMsPerRun));
    const e2e = row(S, "e2e p99", "ms", each((r) => pct(r.e2e, 99)));
    if (b.c === 200) row(S, "overhead p99 (e2e − ideal)", "ms", each((r) => pct(r.overhead, 99)));
    // The p99 above is set by the first waves: c runs start at once on cold connections and stay in step.
    row(S, `e2e p99 past the cold start (runs after the first ${2 * b.c})`, "ms", each((r) => pct(r.e2eSteady, 99)));
    targets.ratio(`b. CPU per run (${b.label})`, "ms", cpu.chorus!, cpu.naive!, "≤", 0.7);
    targets.ratio(`b. throughput (${b.label})`, "runs/s", tput.chorus!, tput.naive!, "≥", 1.3);
    targets.ratio(`b. e2e p99 (${b.label})`, "ms", e2e.chorus!, e2e.naive!, "≤", 0.8);
    if (b.key === "b400") cpuBound = cpu; // the CPU-bound one: the Go seed is compared at it
  }
  if (!cpuBound.chorus) return;
  // No Go toolchain is assumed: the issue's own measure (the Go seed used 0.27× the naive CPU in b).
  targets.ratio("Go seed proxy: CPU per run in b (c=400, CPU-bound) ≤ 2.0× the Go seed ≈ 0.55× naive", "ms", cpuBound.chorus!, cpuBound.naive!, "≤", 0.55);
}

async function scenarioC(naive: Proc) {
  // Chorus with the fan-out deadline, and with the deadline and hedging, alive only for this scenario.
  const deadline = await startChorus("chorus-deadline", { FANOUT_DEADLINE_MS: String(DEADLINE_MS) });
  // The hedge budget at the issue's allowance of extra calls (6 %); the default is 5 %.
  const hedged = await startChorus("chorus-hedged", { FANOUT_DEADLINE_MS: String(DEADLINE_MS), LLM_HEDGE: "true", LLM_HEDGE_BUDGET: "0.06" });
  await warm([deadline, hedged]);
  await configure(TAIL);
  // The hedger learns this upstream's first-token times before it is measured (its window: 200 calls).
  await drive({ url: hedged.url, concurrency: 20, count: 100, tagPrefix: "cwarm" });
  const S = "c. heavy tail (1 call in 20, the summarizer's too: 10× TTFT), c=20, FANOUT_DEADLINE_MS=1500 (hedged: LLM_HEDGE_BUDGET=0.06)";
  const each = await loadScenario("c", { "chorus deadline": deadline, "chorus hedged": hedged, naive }, 20, n(300));
  for (const p of [deadline, hedged]) {
    await p.stop();
    procs.delete(p);
  }
  let p99: Values = {};
  for (const left of ["chorus deadline", "chorus hedged"]) {
    row(S, "e2e p50", "ms", each((r) => pct(r.e2e, 50)), left);
    row(S, "e2e p90", "ms", each((r) => pct(r.e2e, 90)), left);
    p99 = { ...p99, ...row(S, "e2e p99", "ms", each((r) => pct(r.e2e, 99)), left) };
    row(S, "partial runs", "count", each((r) => r.partial), left);
  }
  // 3 agents and a summarizer: 4 calls a run when nothing is hedged (the naive server's count).
  const extra = row(S, "extra upstream calls (counted at the mock)", "%", each((r) => 100 * (r.upstreamCallsPerRun / 4 - 1)), "chorus hedged");
  row(S, "ideal p99 (no deadline)", "ms", each((r) => pct(r.ideal, 99)));
  targets.ratio("c. e2e p99, deadline on (no hedging)", "ms", p99["chorus deadline"]!, p99.naive!, "≤", 0.6);
  targets.ratio("c. e2e p99, deadline on + LLM_HEDGE=true", "ms", p99["chorus hedged"]!, p99.naive!, "≤", 0.6);
  targets.bound("c. extra upstream calls with hedging", "%", extra["chorus hedged"]!, "≤", 6);
}

function grepDist(s: string): boolean {
  const walk = (d: string): boolean =>
    readdirSync(d, { withFileTypes: true }).some((e) =>
      e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith(".js") && readFileSync(join(d, e.name), "utf8").includes(s),
    );
  return walk(join(work, "dist"));
}

/** Holds `count` streams open, then drops them all: RSS per stream, and how long the aborts take. */
async function holdRep(server: Proc, count: number, measureRss: boolean) {
  await configure(SLOW);
  const rss0 = rssKb(server.pid);
  const d = startDriver({ mode: "hold", url: server.url, count, parallel: 100, tagPrefix: `d${count}` });
  const opened = await d.next();
  if (opened.type !== "opened" || opened.failed) throw new Error(`hold: ${JSON.stringify(opened)}`);
  // Every stream's agents should have their upstream call open before anything is measured.
  let open = 0;
  for (const t0 = Date.now(); Date.now() - t0 < 60_000; await sleep(50)) if ((open = (await upstreamStats()).open) >= 3 * count) break;
  if (measureRss) await sleep(1000);
  const rss1 = rssKb(server.pid);
  if (process.env.BENCH_DEBUG_MEM && server.name.startsWith("chorus")) {
    const m = await fetch(`${server.url}/metrics`).then((r) => r.text());
    console.log(m.split("\n").filter((l) => /heap_space_size_(used|total)_bytes|resident_memory|external_memory|heap_size_(used|total)/.test(l) && !l.startsWith("#")).join("\n"));
    console.log(`rss0 ${rss0} rss1 ${rss1}`);
  }
  const cpu0 = cpuMs(server.pid);
  d.child.send("close");
  const closed = await d.next();
  if (closed.type !== "closed") throw new Error("hold: no close");
  await d.exited;
  let s = await upstreamStats();
  for (const t0 = Date.now(); Date.now() - t0 < 30_000 && s.open > 0; await sleep(25)) s = await upstreamStats();
  const lat = s.abortTimes.map((t) => t - closed.at);
  return {
    open,
    stillOpen: s.open,
    aborted: s.aborted,
    rssKbPerStream: (rss1 - rss0) / count,
    abortLastMs: Math.max(...lat),
    abortP50Ms: pct(lat, 50),
    abortCpuMsPerStream: (cpuMs(server.pid) - cpu0) / count,
  };
}

async function scenarioD() {
  const count = n(2000);
  const S = `d. ${count} streams held open on a slow upstream`;
  const v = { rss: {} as Values, last: {} as Values, p50: {} as Values, cpu: {} as Values, one: {} as Values };
  const detail: Record<string, unknown[]> = {};
  for (let rep = 0; rep < (quick ? 1 : D_REPS); rep++) {
    // Fresh servers, so that the RSS baseline carries nothing from the earlier scenarios.
    // RUN_ORPHAN_GRACE_MS=0: a run whose last client left is cancelled at once (on_disconnect: cancel).
    const servers = { chorus: await startChorus("chorus", { RUN_ORPHAN_GRACE_MS: "0" }), naive: await startNaive() };
    await warm(Object.values(servers));
    await sleep(500);
    for (const [label, p] of Object.entries(servers)) {
      const all = await holdRep(p, count, true);
      const ones = [];
      for (let i = 0; i < 5; i++) ones.push(await holdRep(p, 1, false));
      (detail[label] ??= []).push({ all, ones });
      (v.rss[label] ??= []).push(all.rssKbPerStream);
      (v.last[label] ??= []).push(all.abortLastMs);
      (v.p50[label] ??= []).push(all.abortP50Ms);
      (v.cpu[label] ??= []).push(all.abortCpuMsPerStream);
      (v.one[label] ??= []).push(...ones.map((o) => o.abortLastMs));
      if (all.open < 3 * count || all.stillOpen) notes.push(`d (${label}): ${all.open} of ${3 * count} upstream calls were open; ${all.stillOpen} still open 30 s after the clients left.`);
      await p.stop();
      procs.delete(p);
    }
  }
  raw.d = detail;
  row(S, "RSS per open stream", "KB", v.rss);
  row(S, "all clients leave: until the upstream saw every call aborted", "ms", v.last);
  targets.ratio(`d. RSS per open stream (${count} streams)`, "KB", v.rss.chorus!, v.rss.naive!, "≤", 0.75);
  targets.bound(`d. all ${3 * count} upstream calls closed after the clients leave`, "ms", v.last.chorus!, "≤", 1000);
  row(S, "all clients leave: median call aborted after", "ms", v.p50);
  row(S, "all clients leave: server CPU per stream", "ms", v.cpu);
  row(S, "one client leaves: its 3 calls aborted after", "ms", v.one);
}

// ---------- cost as the work grows (Chorus against its own base figure) ----------

/** Cost tables: one per dimension, each variant against the dimension's base. */
const costTables: string[] = [];
const COST_C = 20;
const COST_REPS = Math.min(REPS, 2);
const med = (xs: number[]) => pct(xs, 50);

/** A table of variants of one Chorus measured in one scenario; `base` is the variant others are compared with. */
function costTable(title: string, reps: Record<string, LoadRep[]>, base: string, extra: Record<string, Record<string, string>> = {}) {
  const cpuRun = (r: LoadRep) => r.serverCpuMsPerRun;
  const cpuCall = (r: LoadRep) => r.serverCpuMsPerRun / r.upstreamCallsPerRun;
  const v = (label: string, f: (r: LoadRep) => number) => med(reps[label]!.map(f));
  const extraCols = Object.keys(Object.values(extra)[0] ?? {});
  const lines = [
    `### ${title}`,
    "",
    `| variant | CPU per run (ms) | CPU per upstream call (ms) | upstream calls per run | bytes sent upstream per run | CPU per run ÷ ${base} | CPU per call ÷ ${base} | bytes ÷ ${base} |${extraCols.map((c) => ` ${c} |`).join("")}`,
    `|---|---|---|---|---|---|---|---|${extraCols.map(() => "---|").join("")}`,
  ];
  for (const label of Object.keys(reps)) {
    const ratio = (f: (r: LoadRep) => number) => `${(v(label, f) / v(base, f)).toFixed(2)}×`;
    lines.push(
      `| ${label} | ${fmt(v(label, cpuRun))} | ${fmt(v(label, cpuCall))} | ${fmt(v(label, (r) => r.upstreamCallsPerRun))} | ${fmt(v(label, (r) => r.upstreamBytesPerRun))} | ` +
        `${ratio(cpuRun)} | ${ratio(cpuCall)} | ${ratio((r) => r.upstreamBytesPerRun)} |${extraCols.map((c) => ` ${extra[label]?.[c] ?? ""} |`).join("")}`,
    );
  }
  lines.push("");
  costTables.push(...lines);
  console.log(lines.join("\n"));
  raw[`cost:${title}`] = reps;
  return { cpuRun: (l: string) => reps[l]!.map(cpuRun), cpuCall: (l: string) => reps[l]!.map(cpuCall), bytes: (l: string) => reps[l]!.map((r) => r.upstreamBytesPerRun) };
}

/** Variants of one server, each with its own request fields, measured alternately. */
async function variants(key: string, server: Proc, fields: Record<string, Partial<LoadOptions>>, count: number) {
  const servers = Object.fromEntries(Object.keys(fields).map((k) => [k, server]));
  const reps: Record<string, LoadRep[]> = Object.fromEntries(Object.keys(fields).map((k) => [k, []]));
  // One untimed round of each variant first, so that the first one measured does not pay for the JIT.
  for (const label of Object.keys(fields)) await drive({ url: server.url, concurrency: COST_C, count: COST_C, tagPrefix: `${key}.warm`, ...fields[label] });
  for (let rep = 0; rep < COST_REPS; rep++) {
    for (const [label, p] of Object.entries(servers)) reps[label]!.push(await loadRep(p, COST_C, count, `${key}.${rep}`, fields[label]));
  }
  return reps;
}

/** A prompts folder with `count` agents (copies of the shipped three under new names). */
function promptsWithAgents(count: number): { dir: string; names: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "chorus-bench-prompts-"));
  cpSync(join(root, "prompts"), dir, { recursive: true });
  const src = join(root, "prompts/agents");
  const shipped = readdirSync(src).filter((f) => f.endsWith(".md")).sort();
  rmSync(join(dir, "agents"), { recursive: true });
  // The shipped presets name the shipped agents; without them the defaults apply.
  rmSync(join(dir, "presets"), { recursive: true, force: true });
  mkdirSync(join(dir, "agents"));
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `agent${String(i + 1).padStart(2, "0")}`;
    const text = readFileSync(join(src, shipped[i % shipped.length]!), "utf8").replace(/You are the \w+/, `You are the ${name}`);
    writeFileSync(join(dir, "agents", `${name}.md`), text);
    names.push(name);
  }
  return { dir, names };
}

async function scenarioScale() {
  const { dir, names } = promptsWithAgents(16);
  const chorus = await startChorus("chorus-16-agents", { PROMPTS_DIR: dir });
  await warm([chorus]);
  await configure(REALISTIC);
  const reps = await variants(
    "scale",
    chorus,
    { "3 agents": { extra: { agents: names.slice(0, 3) } }, "8 agents": { extra: { agents: names.slice(0, 8) } }, "16 agents": { extra: { agents: names } } },
    n(100),
  );
  await chorus.stop();
  procs.delete(chorus);
  rmSync(dir, { recursive: true, force: true });
  const t = costTable(`Agents per run (realistic upstream, c=${COST_C})`, reps, "3 agents");
  for (const l of ["8 agents", "16 agents"]) targets.within(`scale. CPU per upstream call, ${l} vs 3`, "ms", t.cpuCall(l), t.cpuCall("3 agents"), 15);
}

async function scenarioStrategies() {
  if (!grepDist("FINAL RANKING")) {
    notes.push("strategies: this build has no council/fusion strategies: not measured.");
    targets.missing("strategies. CPU per upstream call of council and fusion within ±15 % of summarize", "this build has no strategies");
    return;
  }
  const chorus = await startChorus("chorus-strategies");
  await warm([chorus]);
  await configure(REALISTIC);
  const reps = await variants(
    "strat",
    chorus,
    { summarize: { extra: { strategy: "summarize" } }, council: { extra: { strategy: "council" } }, fusion: { extra: { strategy: "fusion" } } },
    n(100),
  );
  await chorus.stop();
  procs.delete(chorus);
  const failed = Object.entries(reps).filter(([, rs]) => rs.some((r) => r.failed || r.partial));
  if (failed.length) notes.push(`strategies: runs that failed or were partial: ${failed.map(([k, rs]) => `${k} ${rs.map((r) => `${r.failed}/${r.partial}`).join(", ")}`).join("; ")}.`);
  const t = costTable(`Strategies (3 agents, realistic upstream, c=${COST_C})`, reps, "summarize");
  for (const l of ["council", "fusion"]) targets.within(`strategies. CPU per upstream call, ${l} vs summarize`, "ms", t.cpuCall(l), t.cpuCall("summarize"), 15);
}

/** A question of about `chars` characters (the bench tag, about 20 more, is appended to it). */
const question = (chars: number) => `${"Why is the sky blue and not violet, given how scattering works? ".repeat(Math.ceil(chars / 64)).slice(0, chars - 1).trimEnd()}?`;

async function scenarioSize() {
  const chorus = await startChorus("chorus-size");
  await warm([chorus]);
  await configure(REALISTIC);
  const sizes = [100, 1000, 4000, 15_950];
  const fields: Record<string, Partial<LoadOptions>> = Object.fromEntries(sizes.map((c) => [`${c} characters`, { message: question(c) }]));
  fields["10-turn conversation (100 characters a turn)"] = { message: question(100), turns: 10 };
  const reps = await variants("size", chorus, fields, n(100));
  await chorus.stop();
  procs.delete(chorus);
  const base = "100 characters";
  const t = costTable(`Message size and conversation length (3 agents, realistic upstream, c=${COST_C}; a conversation's figures are the mean over its 10 turns)`, reps, base);
  for (const l of Object.keys(fields).slice(1)) targets.growth(`size. ${l} vs 100 characters`, t.cpuRun(l), t.cpuRun(base), t.bytes(l), t.bytes(base));
}

async function scenarioRedis() {
  const redis = await startBenchRedis(await freePort(), PIN ? LOADGEN_CORE : undefined);
  const memory = await startChorus("chorus-memory");
  const shared = await startChorus("chorus-redis", { REDIS_URL: redis.url });
  try {
    await warm([memory, shared]);
    await configure(REALISTIC);
    const reps: Record<string, LoadRep[]> = { "memory mode": [], "Redis mode": [] };
    const deltas: ReturnType<typeof redisDelta>[] = [];
    for (let rep = 0; rep < COST_REPS; rep++) {
      reps["memory mode"]!.push(await loadRep(memory, COST_C, n(100), `redis.${rep}`));
      const r0 = redis.counters();
      const r = await loadRep(shared, COST_C, n(100), `redis.${rep}`);
      deltas.push(redisDelta(r0, redis.counters()));
      reps["Redis mode"]!.push(r);
    }
    const perRun = (f: (d: (typeof deltas)[number]) => number) => med(deltas.map((d, i) => f(d) / reps["Redis mode"]![i]!.runs));
    const byName: Record<string, number> = {};
    for (const d of deltas) for (const [k, v] of Object.entries(d.commands)) byName[k] = (byName[k] ?? 0) + v / d.total;
    const top = Object.entries(byName)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${((100 * v) / deltas.length).toFixed(0)}%`)
      .join(", ");
    const fig = {
      "Redis commands per run": fmt(perRun((d) => d.total)),
      "Redis bytes in per run": fmt(perRun((d) => d.netIn)),
      "Redis bytes out per run": fmt(perRun((d) => d.netOut)),
      "redis-server CPU per run (ms)": fmt(perRun((d) => d.cpuMs)),
    };
    const t = costTable(`Redis mode (REDIS_URL; 3 agents, realistic upstream, c=${COST_C})`, reps, "memory mode", { "Redis mode": fig });
    costTables.push(`Redis commands by name (share of all): ${top}.`, "");
    raw.redis = { deltas, runs: reps["Redis mode"]!.map((r) => r.runs) };
    targets.ratio("redis. CPU per run, Redis mode vs memory mode", "ms", t.cpuRun("Redis mode"), t.cpuRun("memory mode"), "≤", 1.4);
  } finally {
    for (const p of [memory, shared]) {
      await p.stop();
      procs.delete(p);
    }
    await redis.stop();
  }
}

/** Profiles a fresh Chorus (`node --cpu-prof`) under one load, after a warm-up. */
async function profile(knobs: Partial<Knobs>, concurrency: number, count: number): Promise<ProfileSummary | undefined> {
  const dir = mkdtempSync(join(tmpdir(), "chorus-prof-"));
  const chorus = await startChorus("chorus-profiled", {}, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
  await warm([chorus]);
  await configure(knobs);
  await drive({ url: chorus.url, concurrency, count, tagPrefix: "prof" });
  await chorus.stop();
  procs.delete(chorus);
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) {
    notes.push("profile: Chorus wrote no .cpuprofile (did it exit cleanly on SIGTERM?)");
    return undefined;
  }
  notes.push(`profile (c=${concurrency}, ${count} runs): ${join(dir, file)}`);
  return summarizeProfile(join(dir, file), work);
}

// ---------- main ----------

function markdown(profiles: Record<string, ProfileSummary>): string {
  const m = machine;
  const lines = [
    `# Chorus benchmark (${m.date})`,
    "",
    `Machine: nproc ${m.nproc}, ${m.cpu}, Node ${m.node}; load average (1/5/15 min) at start ${m.loadavg.join(" ")}, at the end ${m.loadavgEnd.join(" ")} (other work on the machine shows here); ${m.pinned}. Chorus: ${m.chorus}.`,
    `${REPS} repetition(s) per scenario${quick ? " (quick mode: a tenth of the runs)" : ""}, each visiting every server in turn; cells are median (min–max) over repetitions; the ratio compares medians. ` +
      "Throughput is steady-state: completions from the first to the last. Ideal = max over agents (TTFT + tokens × delay) + the summarizer's, from the upstream's own plan; overhead = e2e − ideal. " +
      `Scenario seconds: ${Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ")}; of which the hypervisor ` +
      `stole from the servers' core (/proc/stat steal; stalls that land in p99s): ${Object.entries(steal).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}.`,
    "",
    "## Issue 16's targets",
    "",
    ...targets.markdown(),
    "",
    "## Chorus against the naive reference",
    "",
    HEADER,
    ...rows.map(rowLine),
    "",
    ...(costTables.length ? ["## Cost as the work grows (Chorus against itself; cost scenarios: " + `${COST_REPS} repetition(s), medians)`, "", ...costTables] : []),
    ...(notes.length ? ["Notes:", "", ...notes.map((x) => `- ${x}`), ""] : []),
  ];
  for (const [title, prof] of Object.entries(profiles)) {
    lines.push(
      `## Profile: Chorus under ${title} (\`node --cpu-prof\`)`,
      "",
      `Busy ${fmt(prof.busyMs)} ms, idle ${fmt(prof.idleMs)} ms (start-up and warm-up included).`,
      "",
      "Time by owner (each sample charged to the nearest package or Chorus file on its stack; node: and V8 when none):",
      "",
      "| owner | ms | % of busy |",
      "|---|---|---|",
      ...prof.owners.map((a) => `| ${a.name} | ${fmt(a.ms)} | ${a.pct.toFixed(1)} |`),
      "",
      "Self time by area:",
      "",
      "| area | self ms | % of busy |",
      "|---|---|---|",
      ...prof.areas.map((a) => `| ${a.name} | ${fmt(a.ms)} | ${a.pct.toFixed(1)} |`),
      "",
      "Top functions by self time:",
      "",
      "| function | area | self ms | % of busy |",
      "|---|---|---|---|",
      ...prof.functions.map((f) => `| \`${f.name}\` | ${f.area} | ${fmt(f.ms)} | ${f.pct.toFixed(1)} |`),
      "",
    );
  }
  return lines.join("\n");
}

/** CPU time the hypervisor gave to others ("steal", /proc/stat) on the servers' core, in ms. */
function stealMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith(`cpu${PIN ? SERVER_CORE : ""} `));
  return line ? (Number(line.trim().split(/\s+/)[8]) * 1000) / CLK_TCK : 0;
}

async function timed(name: string, f: () => Promise<void>) {
  const t0 = Date.now();
  const s0 = stealMs();
  await f();
  timings[name] = (Date.now() - t0) / 1000;
  steal[name] = (stealMs() - s0) / 1000;
}
const timings: Record<string, number> = {};
/** Seconds of steal per scenario: a virtual machine's neighbours stall the servers, mostly seen in p99s. */
const steal: Record<string, number> = {};

async function main() {
  const t0 = Date.now();
  console.log(`Chorus bench on Node ${machine.node} (${NODE}); ${machine.pinned}`);
  const upPort = await freePort();
  upstream = await launch("upstream", LOADGEN_CORE, [NODE, join(here, "upstream.js"), "--port", String(upPort)], {}, upPort).ready("/stats");
  const profiles: Record<string, ProfileSummary> = {};
  try {
    console.log(HEADER);
    if (only.has("a") || only.has("b") || only.has("b200") || only.has("b400") || only.has("e") || only.has("c")) {
      const chorus = await startChorus("chorus");
      const naive = await startNaive();
      const servers: Record<string, Proc> = { chorus, naive };
      if (baseWork) servers["chorus base"] = await startChorus("chorus-base", {}, [], baseWork);
      await warm(Object.values(servers));
      if (only.has("a")) await timed("a", () => scenarioA(servers));
      if (["b", "b200", "b400", "e"].some((k) => only.has(k))) await timed("b", () => scenarioB(servers));
      if (only.has("c")) await timed("c", () => scenarioC(naive));
      for (const p of Object.values(servers)) {
        await p.stop();
        procs.delete(p);
      }
    }
    if (only.has("d")) await timed("d", scenarioD);
    if (only.has("scale")) await timed("scale", scenarioScale);
    if (only.has("strategies")) await timed("strategies", scenarioStrategies);
    if (only.has("size")) await timed("size", scenarioSize);
    if (only.has("redis")) await timed("redis", scenarioRedis);
    if (only.has("profile")) {
      await timed("profile", async () => {
        const a = await profile(ZERO, 50, n(600));
        if (a) profiles["scenario a (zero-latency upstream, c=50)"] = a;
        const b = await profile(REALISTIC, 200, n(1000));
        if (b) profiles["scenario b (realistic upstream, c=200)"] = b;
      });
    }
  } finally {
    await stopAll();
    for (const w of [work, baseWork]) if (w) rmSync(w, { recursive: true, force: true });
  }
  const outDir = join(root, "bench/results");
  mkdirSync(outDir, { recursive: true });
  machine.loadavgEnd = loadavg().map((x) => Number(x.toFixed(2)));
  const json = { machine, reps: REPS, quick, elapsedS: (Date.now() - t0) / 1000, timings, steal, targets: targets.lines, rows, costTables, notes, raw, profiles };
  const md = markdown(profiles);
  // A complete default run is also kept per Node major (node-20.md, node-24.md); partial ones only as latest.
  const complete = !quick && !args.dist && !args.base && ALL.split(",").every((x) => only.has(x));
  for (const name of complete ? ["latest", `node-${process.versions.node.split(".")[0]}`] : ["latest"]) {
    writeFileSync(join(outDir, `${name}.json`), JSON.stringify(json, null, 2));
    writeFileSync(join(outDir, `${name}.md`), md);
  }
  console.log(`\nIssue 16's targets (figure, ratio, ok/short):\n${targets.markdown().join("\n")}`);
  console.log(`\n${notes.map((x) => `- ${x}`).join("\n")}\n\ndone in ${json.elapsedS.toFixed(0)} s (${JSON.stringify(timings)}): bench/results/latest.md, latest.json`);
}

await main();
