import { readFile } from "node:fs/promises";
import type { IncomingMessage, Server } from "node:http";
import { dirname } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import pino from "pino";
import { createApp } from "./app.js";
import { type LoadedConfig, loadConfig, parseConfigText } from "./config/load.js";
import { nodeFileSource } from "./config/node-files.js";
import { isLoopbackHttp } from "./config/validate.js";
import type { FetchFn } from "./issuers/fetch.js";
import type { KeySetTiming } from "./issuers/key-set.js";
import { type Clock, systemClock } from "./lib/clock.js";
import type { RateLimiter } from "./limits/limiter.js";
import { memoryRateLimiter } from "./limits/memory.js";
import { redisRateLimiter } from "./limits/redis.js";
import { memoryReplayStore } from "./replay/memory.js";
import { redisReplayStore } from "./replay/redis.js";
import { createRedisClient } from "./replay/redis-client.js";
import type { ReplayStore } from "./replay/store.js";
import { buildServices, type Services } from "./services.js";
import { type AuditSink, jsonLinesAudit } from "./telemetry/audit.js";
import type { Logger } from "./telemetry/logger.js";

/** The only module that reads the environment, opens ports and handles signals. */
export interface ServerOptions {
  readonly configPath?: string | undefined;
  /** A config value instead of a file (tests); files it names resolve against `configDir`. */
  readonly config?: unknown;
  readonly configDir?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Test hooks: everything else is real. */
  readonly clock?: Clock;
  readonly fetch?: FetchFn;
  readonly logger?: Logger;
  readonly audit?: AuditSink;
  readonly keyTiming?: KeySetTiming;
  readonly port?: number;
  readonly host?: string;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly services: Services;
  /** SIGTERM's sequence: unready at once, wait `shutdown.delay`, drain (bounded), close the stores. */
  shutdown(): Promise<void>;
}

export function createLogger(level: string | undefined): Logger {
  return pino({
    level: level ?? "info",
    base: { service: "trustpub" },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

export async function readConfig(path: string, env: ServerOptions["env"]): Promise<LoadedConfig> {
  const text = await readFile(path, "utf8").catch((err: Error) => {
    throw new Error(`cannot read config file ${path}: ${err.message}`);
  });
  return loadConfig(parseConfigText(text), env, nodeFileSource(dirname(path)));
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { env } = options;
  const logger = options.logger ?? createLogger(env.LOG_LEVEL);
  const configPath = options.configPath ?? env.TRUSTPUB_CONFIG;
  let loaded: LoadedConfig;
  if (options.config !== undefined) {
    loaded = await loadConfig(
      options.config,
      env,
      nodeFileSource(options.configDir ?? process.cwd()),
    );
  } else {
    if (!configPath) throw new Error("no config: pass --config FILE or set TRUSTPUB_CONFIG");
    logger.info({ config: configPath }, "loading config");
    loaded = await readConfig(configPath, env);
  }
  for (const warning of loaded.warnings) logger.warn({ config: configPath }, warning);
  const { config } = loaded;
  const clock = options.clock ?? systemClock;

  let replay: ReplayStore;
  if (config.replay.redis) {
    logger.info({ redis: describeRedis(config.replay.redis) }, "connecting to redis");
    replay = redisReplayStore(
      createRedisClient(config.replay.redis, config.replay.command_timeout, logger),
    );
  } else {
    replay = memoryReplayStore(clock);
  }

  const limiter = createLimiter(config, clock, logger);

  const services = await buildServices(loaded, {
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    clock,
    logger,
    audit: options.audit ?? jsonLinesAudit((line) => process.stdout.write(line)),
    replay,
    keyTiming: options.keyTiming,
    limiter,
  });

  const port = options.port ?? Number(env.PORT ?? 8080);
  let host = options.host ?? env.HOST ?? "0.0.0.0";
  if (
    config.dev.demo_issuer &&
    !isLoopbackHttp(`http://${host.includes(":") ? `[${host}]` : host}`)
  ) {
    if (env.HOST)
      throw new Error("dev.demo_issuer is development-only: HOST must be a loopback address");
    host = "127.0.0.1";
  }
  const app = createApp({
    services: () => services,
    clientAddress: (_request, bindings) =>
      (bindings as { incoming?: IncomingMessage }).incoming?.socket.remoteAddress,
  });

  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port, hostname: host }, () => resolve(s));
    s.once("error", reject);
  });
  const address = (server as Server).address();
  const boundPort = typeof address === "object" && address ? address.port : port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}`;
  logger.info(
    {
      url,
      replay: replay.kind,
      issuers: Object.keys(config.ci_issuers).length,
      publishers: loaded.publishers.length,
    },
    "trustpub is serving",
  );

  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= (async () => {
      services.lifecycle.draining = true;
      logger.info(
        { delay_ms: config.shutdown.delay },
        "shutting down: unready now, draining after the delay",
      );
      await sleep(config.shutdown.delay);
      const closed = new Promise<void>((resolve) => (server as Server).close(() => resolve()));
      (server as Server).closeIdleConnections?.();
      const drained = await Promise.race([
        closed.then(() => true),
        sleep(config.shutdown.drain_timeout).then(() => false),
      ]);
      if (!drained) {
        logger.warn(
          { timeout_ms: config.shutdown.drain_timeout },
          "drain timed out; closing remaining connections",
        );
        (server as Server).closeAllConnections?.();
      }
      await replay.close();
      await limiter.close();
      logger.info({}, "stopped");
    })();
    return stopping;
  };
  return { url, port: boundPort, services, shutdown };
}

/**
 * Rate-limit counters: in Redis when there is one (on their own connection,
 * so a burst of limiter calls never queues behind JTI claims), else in memory.
 * The limiter waits for Redis at most half the replay command timeout (250 ms
 * at most), then decides locally.
 */
function createLimiter(config: LoadedConfig["config"], clock: Clock, logger: Logger): RateLimiter {
  const local = memoryRateLimiter(clock);
  if (!config.replay.redis) return local;
  const timeout = config.replay.command_timeout;
  return redisRateLimiter(createRedisClient(config.replay.redis, timeout, logger), {
    prefix: config.replay.key_prefix,
    clock,
    logger,
    timeoutMs: Math.max(10, Math.min(250, Math.floor(timeout / 2))),
    fallback: local,
  });
}

function describeRedis(topology: NonNullable<LoadedConfig["config"]["replay"]["redis"]>): string {
  const hide = (u: string) => u.replace(/\/\/[^@/]*@/, "//***@");
  if (typeof topology === "string") return hide(topology);
  if ("url" in topology) return hide(topology.url);
  if ("sentinels" in topology)
    return `sentinel ${topology.name} via ${topology.sentinels.map(hide).join(",")}`;
  return `cluster ${topology.cluster.map(hide).join(",")}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
