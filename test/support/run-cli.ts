// Runs the `chorus` command (from src/, through tsx) as a real child process with stdout and
// stderr piped (not a TTY), in an environment cleared of the variables that point it at a server.
import { spawn } from "node:child_process";

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { CHORUS_URL, CHORUS_API_KEY, HTTP_ADDR, ...base } = process.env;
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/chorus.ts", ...args], {
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
