// A Chorus started as its own process (`node --import tsx src/index.ts`), as a replica runs in
// production: for tests that put several replicas behind a proxy. Listens on a free loopback port.
import { spawn } from "node:child_process";
import { freePort } from "./free-port.js";

export interface ChorusProcess {
  /** host:port, for a proxy's upstream list. */
  addr: string;
  url: string;
  stop(): Promise<void>;
}

export async function startChorusProcess(env: Record<string, string>): Promise<ChorusProcess> {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const child = spawn(process.execPath, ["--import", "tsx", "src/index.ts"], {
    // Set here, so that the repository's .env (read for anything unset) cannot change them.
    env: { ...process.env, USE_LLM_MOCK: "true", LOG_LEVEL: "warn", PRODUCTION: "true", SHUTDOWN_GRACE_MS: "0", ...env, HTTP_ADDR: addr },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const url = `http://${addr}`;
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`chorus exited at start: ${stderr}`);
    if (Date.now() - t0 > 30_000) throw new Error(`chorus did not answer /health within 30 s: ${stderr}`);
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    addr,
    url,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}
