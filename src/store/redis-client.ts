// ioredis connections for REDIS_URL: one for commands, one for pub/sub. Commands fail fast
// while Redis is away (no offline queue, short timeouts), so a request that needs Redis gets
// a clear store_unavailable error instead of hanging; ioredis keeps reconnecting in the background.
import { Redis } from "ioredis";

export interface RedisConnections {
  redis: Redis;
  sub: Redis;
  /** Resolves once connected, or after `ms` (the service starts anyway and reconnects later). */
  ready(ms: number): Promise<boolean>;
}

export function connectRedis(url: string, onError: (err: Error) => void): RedisConnections {
  const options = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
  };
  const redis = new Redis(url, options);
  // The subscriber must queue its SUBSCRIBE until connected, and re-subscribes on reconnect.
  const sub = new Redis(url, { ...options, enableOfflineQueue: true, commandTimeout: undefined });
  let lastError = "";
  for (const c of [redis, sub]) {
    c.on("error", (err: Error) => {
      // One line per distinct error, not one per reconnect attempt.
      if (err.message !== lastError) onError(err);
      lastError = err.message;
    });
    c.on("ready", () => (lastError = ""));
  }
  const ready = (ms: number) =>
    new Promise<boolean>((resolve) => {
      if (redis.status === "ready") return resolve(true);
      const t = setTimeout(() => resolve(false), ms);
      redis.once("ready", () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  return { redis, sub, ready };
}
