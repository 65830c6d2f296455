// A real redis-server for tests, on a free loopback port, no persistence; stopped afterwards.
// Or a real three-master Redis Cluster of them (startRedisCluster).
// The Makefile's test target installs redis-server (Debian) when missing.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { freePort } from "./free-port.js";

export interface TestRedis {
  url: string;
  port: number;
  /** Kills the server at once (SIGKILL): "Redis died". */
  kill(): Promise<void>;
  stop(): Promise<void>;
}


/** True when a Redis server answers PING on the port. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    sock.setTimeout(500);
    sock.on("connect", () => sock.write("PING\r\n"));
    sock.on("data", (d) => {
      resolve(String(d).startsWith("+PONG"));
      sock.destroy();
    });
    sock.on("error", () => resolve(false));
    sock.on("timeout", () => {
      resolve(false);
      sock.destroy();
    });
  });
}

export async function startRedis(extraArgs: string[] = [], cwd?: string): Promise<TestRedis> {
  const port = await freePort();
  const proc: ChildProcess = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...extraArgs], {
    stdio: "ignore",
    cwd,
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const url = `redis://127.0.0.1:${port}`;
  const t0 = Date.now();
  while (!(await pong(port))) {
    if (proc.exitCode !== null || Date.now() - t0 > 10_000) throw new Error("redis-server did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  const kill = async () => {
    if (proc.exitCode === null) proc.kill("SIGKILL");
    await exited;
  };
  return { url, port, kill, stop: kill };
}

export interface TestRedisCluster {
  /** One node's URL: Chorus discovers the others (REDIS_CLUSTER=true). */
  url: string;
  nodes: TestRedis[];
  stop(): Promise<void>;
}

/** Three masters, no replicas, slots spread by `redis-cli --cluster create`; resolves once every node says cluster_state:ok. */
export async function startRedisCluster(): Promise<TestRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), "chorus-cluster-"));
  const nodes: TestRedis[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(await startRedis(["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${i}.conf`, "--cluster-node-timeout", "5000"], dir));
    }
    const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run("redis-cli", ["--cluster", "create", ...addrs, "--cluster-replicas", "0", "--cluster-yes"]);
    const t0 = Date.now();
    for (const n of nodes) {
      while (!(await run("redis-cli", ["-p", String(n.port), "cluster", "info"])).includes("cluster_state:ok")) {
        if (Date.now() - t0 > 20_000) throw new Error("the Redis Cluster did not reach cluster_state:ok");
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: nodes[0]!.url, nodes, stop };
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}
