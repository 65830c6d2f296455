// pino: JSON lines in production, readable lines otherwise. Secrets are redacted by path;
// no message string ever interpolates a key.
import { pino, type DestinationStream, type Logger } from "pino";

export function createLogger(opts: { level: string; production: boolean }, destination?: DestinationStream): Logger {
  const options = {
    level: opts.level,
    redact: {
      paths: ["req.headers.authorization", "headers.authorization", "apiKey", "llmKey", "*.apiKey", "*.llmKey"],
      censor: "[redacted]",
    },
  };
  if (destination) return pino(options, destination);
  if (opts.production) return pino(options);
  return pino({
    ...options,
    transport: { target: "pino-pretty", options: { colorize: true, translateTime: "HH:MM:ss.l", ignore: "pid,hostname" } },
  });
}
