// A Chorus started as its own process (`node --import tsx src/index.ts`), as a replica runs in
// production, on a fixed free loopback port: for tests that put several replicas behind a proxy,
// and for tests that SIGKILL a replica (or pause it) and start it again at the same address.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { freePort } from "./free-port.js";

export interface ChorusProcess {
  /** host:port, for a proxy's upstream list. */
  addr: string;
  url: string;
  /** Live between start() and kill(). */
  readonly alive: boolean;
  /** The process's resident set size now, in bytes (Linux /proc). */
  rss(): number;
  start(): Promise<void>;
  /** SIGKILL: no drain, no last writes. */
  kill(): Promise<void>;
  /** SIGTERM (SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT: a replica paused (GC, stopped VM) that wakes up later believing it still owns its runs. */
  pause(): void;
  resume(): void;
  /** The last of what the process wrote, for a failing test's message. */
  output(): string;
}

export async function chorusProcess(env: Record<string, string>): Promise<ChorusProcess> {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const url = `http://${addr}`;
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let out = "";
  const self: ChorusProcess = {
    addr,
    url,
    get alive() {
      return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
    },
    async start() {
      const { CHORUS_URL: _, ...base } = process.env;
      proc = spawn(process.execPath, ["--import", "tsx", "src/index.ts"], {
        // Set here, so that the repository's .env (read for anything unset) cannot change them.
        env: { ...base, PRODUCTION: "true", LOG_LEVEL: "warn", RATE_LIMIT_POINTS: "100000", ...env, HTTP_ADDR: addr },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const p = proc;
      p.stdout!.on("data", (c) => (out = (out + c).slice(-200_000)));
      p.stderr!.on("data", (c) => (out = (out + c).slice(-200_000)));
      exited = new Promise((r) => p.once("exit", () => r()));
      const t0 = Date.now();
      for (;;) {
        if (p.exitCode !== null) throw new Error(`chorus exited at start:\n${out}`);
        if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) return;
        if (Date.now() - t0 > 30_000) throw new Error(`chorus did not answer /health within 30 s:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async kill() {
      if (proc && self.alive) proc.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (proc && self.alive) proc.kill("SIGTERM");
      const killer = setTimeout(() => proc?.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killer);
    },
    pause: () => void proc?.kill("SIGSTOP"),
    resume: () => void proc?.kill("SIGCONT"),
    output: () => out,
    rss: () => {
      const status = self.alive ? readFileSync(`/proc/${proc!.pid}/status`, "utf8") : "";
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
  };
  await self.start();
  return self;
}

/** A replica on the built-in mock LLM unless `env` says otherwise; its stop() drains for 0 ms. */
export const startChorusProcess = (env: Record<string, string>) =>
  chorusProcess({ USE_LLM_MOCK: "true", SHUTDOWN_GRACE_MS: "0", ...env });
