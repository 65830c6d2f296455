// A redis-server for the benchmark's Redis mode (no persistence, a free loopback port) and what it
// did: commands by name (INFO commandstats), bytes in and out (INFO stats) and its CPU time.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";

export interface RedisCounters {
  commands: Record<string, number>;
  netIn: number;
  netOut: number;
  cpuMs: number;
}

export interface BenchRedis {
  url: string;
  pid: number;
  counters(): RedisCounters;
  stop(): Promise<void>;
}

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

function info(port: number, section: string): string {
  const r = spawnSync("redis-cli", ["-p", String(port), "INFO", section], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`redis-cli INFO ${section}: ${r.stderr}`);
  return r.stdout;
}

/** Starts redis-server on `port`, optionally pinned (`taskset -c core`). */
export async function startBenchRedis(port: number, core?: number): Promise<BenchRedis> {
  const argv = ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  const child: ChildProcess =
    core === undefined ? spawn(argv[0]!, argv.slice(1), { stdio: "ignore" }) : spawn("taskset", ["-c", String(core), ...argv], { stdio: "ignore" });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 50))) {
    if (spawnSync("redis-cli", ["-p", String(port), "PING"], { encoding: "utf8" }).stdout.trim() === "PONG") break;
    if (child.exitCode !== null || Date.now() - t0 > 10_000) throw new Error("redis-server did not start");
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    counters() {
      const commands: Record<string, number> = {};
      for (const m of info(port, "commandstats").matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) commands[m[1]!] = Number(m[2]);
      const stats = info(port, "stats");
      const num = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, "m").exec(stats)?.[1] ?? NaN);
      const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return { commands, netIn: num("total_net_input_bytes"), netOut: num("total_net_output_bytes"), cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK };
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** What happened between two readings: commands (by name and in all), bytes, CPU. */
export function redisDelta(a: RedisCounters, b: RedisCounters) {
  const commands: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.commands)) if (v - (a.commands[k] ?? 0) > 0) commands[k] = v - (a.commands[k] ?? 0);
  // The INFO calls themselves are not the service's.
  delete commands.info;
  delete commands.ping;
  const total = Object.values(commands).reduce((x, y) => x + y, 0);
  return { commands, total, netIn: b.netIn - a.netIn, netOut: b.netOut - a.netOut, cpuMs: b.cpuMs - a.cpuMs };
}
