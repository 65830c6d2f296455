// Chorus as a real child process (src/index.ts through tsx) on a fixed loopback port, so a test
// can SIGKILL it and start it again at the same address: a replica that dies and comes back.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { freePort } from "./free-port.js";

export interface ChorusProcess {
  url: string;
  /** Live between start() and kill(). */
  readonly alive: boolean;
  /** The process's resident set size now, in bytes (Linux /proc). */
  rss(): number;
  start(): Promise<void>;
  /** SIGKILL: no drain, no last writes. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a replica paused (GC, stopped VM) that wakes up later believing it still owns its runs. */
  pause(): void;
  resume(): void;
  /** Everything the process wrote, for a failing test's message. */
  output(): string;
}

export async function chorusProcess(env: Record<string, string>): Promise<ChorusProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let out = "";
  const self: ChorusProcess = {
    url,
    get alive() {
      return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
    },
    async start() {
      const { CHORUS_URL: _, ...base } = process.env;
      proc = spawn(process.execPath, ["--import", "tsx", "src/index.ts"], {
        env: { ...base, PRODUCTION: "true", LOG_LEVEL: "warn", RATE_LIMIT_POINTS: "100000", ...env, HTTP_ADDR: `127.0.0.1:${port}` },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const p = proc;
      p.stdout!.on("data", (c) => (out = (out + c).slice(-20_000)));
      p.stderr!.on("data", (c) => (out = (out + c).slice(-20_000)));
      exited = new Promise((r) => p.once("exit", () => r()));
      const t0 = Date.now();
      for (;;) {
        if (p.exitCode !== null) throw new Error(`chorus exited at start:\n${out}`);
        const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
        if (ok) return;
        if (Date.now() - t0 > 30_000) throw new Error(`chorus did not start within 30 s:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async kill() {
      if (proc && self.alive) proc.kill("SIGKILL");
      await exited;
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
