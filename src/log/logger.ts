// pino: JSON lines in production, readable lines otherwise. Secrets are redacted by path;
// no message string ever interpolates a key.
import { pino, type Logger } from "pino";

export function createLogger(opts: { level: string; production: boolean }): Logger {
  return pino({
    level: opts.level,
    redact: { paths: ["req.headers.authorization", "headers.authorization", "apiKey", "llmKey", "*.apiKey", "*.llmKey"], censor: "[redacted]" },
    ...(opts.production || opts.level === "silent"
      ? {}
      : { transport: { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss.l", ignore: "pid,hostname" } } }),
  });
}
