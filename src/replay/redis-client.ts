import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { RedisTopology } from "../config/schema.js";
import type { Logger } from "../telemetry/logger.js";
import type { RedisClient } from "./redis.js";

/**
 * Connection options that make Redis failures fast and visible: no offline
 * queue (a command while disconnected fails at once instead of waiting),
 * a bounded command timeout (a paused server fails at the timeout), no
 * per-request retries, and background reconnection so the service recovers
 * on its own when Redis returns.
 */
export function failFastOptions(commandTimeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(1000, commandTimeoutMs * 2),
    maxRetriesPerRequest: 0,
    enableReadyCheck: true,
    lazyConnect: false,
    // Commands issued in the same tick (many concurrent exchanges) share one write.
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
  };
}

function hostPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 6379) };
}

export function createRedisClient(
  topology: RedisTopology,
  commandTimeoutMs: number,
  logger: Logger,
): RedisClient {
  const options = failFastOptions(commandTimeoutMs);
  let client: RedisClient;
  if (typeof topology === "string" || "url" in topology) {
    const url = typeof topology === "string" ? topology : topology.url;
    client = new Redis(url, options);
  } else if ("sentinels" in topology) {
    client = new Redis({
      ...options,
      sentinels: topology.sentinels.map(hostPort),
      name: topology.name,
      password: topology.password,
      db: topology.db ?? 0,
      sentinelRetryStrategy: (times) => Math.min(100 * times, 1000),
    });
  } else {
    client = new Cluster(topology.cluster.map(hostPort), {
      enableOfflineQueue: false,
      redisOptions: { ...options, password: topology.password },
      clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
    });
  }
  let reported = false;
  client.on("error", (err: Error) => {
    if (!reported) logger.warn({ err: err.message }, "redis connection error");
    reported = true;
  });
  client.on("ready", () => {
    if (reported) logger.info({}, "redis connection restored");
    reported = false;
  });
  return client;
}
