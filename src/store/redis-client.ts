// ioredis connections for REDIS_URL: one for commands, one for pub/sub; a Cluster client for
// each when REDIS_CLUSTER=true (REDIS_URL names one node, the others are discovered). Commands
// fail fast while Redis is away (no offline queue, short timeouts), so a request that needs
// Redis gets a clear store_unavailable error instead of hanging; ioredis keeps reconnecting in the background.
import { Cluster, Redis, type RedisOptions } from "ioredis";

export interface RedisConnections {
  redis: Redis | Cluster;
  sub: Redis | Cluster;
  /** Resolves once connected, or after `ms` (the service starts anyway and reconnects later). */
  ready(ms: number): Promise<boolean>;
}

export function connectRedis(url: string, onError: (err: Error) => void, cluster = false): RedisConnections {
  const options: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
  };
  // The subscriber must queue its SUBSCRIBE until connected, and re-subscribes on reconnect.
  const subOptions: RedisOptions = { ...options, enableOfflineQueue: true, commandTimeout: undefined };
  const connect = (opts: RedisOptions): Redis | Cluster => {
    if (!cluster) return new Redis(url, opts);
    const u = new URL(url);
    const { enableOfflineQueue, ...redisOptions } = opts;
    return new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], {
      enableOfflineQueue,
      clusterRetryStrategy: (times: number) => Math.min(times * 200, 2000),
      redisOptions: {
        ...redisOptions,
        ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
        ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
        ...(u.protocol === "rediss:" ? { tls: {} } : {}),
      },
    });
  };
  const redis = connect(options);
  const sub = connect(subOptions);
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
