// A real redis-server for tests, on a free loopback port, no persistence; stopped afterwards.
// The Makefile's test target installs redis-server (Debian) when missing.
import { spawn, type ChildProcess } from "node:child_process";
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

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const proc: ChildProcess = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
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
