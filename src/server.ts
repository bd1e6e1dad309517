import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, Server } from "node:http";
import { dirname } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import pino from "pino";
import { createApp } from "./app.js";
import { type LoadedConfig, loadConfig, parseConfigText } from "./config/load.js";
import { nodeFileSource } from "./config/node-files.js";
import { ConfigError } from "./config/problems.js";
import { isLoopbackHttp } from "./config/validate.js";
import type { FetchFn } from "./issuers/fetch.js";
import type { KeySetTiming } from "./issuers/key-set.js";
import { type Clock, systemClock } from "./lib/clock.js";
import { installSha256 } from "./lib/sha256.js";
import { nodeRuntimes } from "./node-runtime.js";
import type { ReplayStore } from "./replay/store.js";
import { buildServices, type Services } from "./services.js";
import { type AuditSink, jsonLinesAudit } from "./telemetry/audit.js";
import { lineBatch } from "./telemetry/line-batch.js";
import type { Logger } from "./telemetry/logger.js";
import { startTelemetrySdk } from "./telemetry/otel-sdk.js";
import { prometheusMetrics } from "./telemetry/prometheus.js";

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
  /** The services in force; a reload replaces them. */
  readonly services: Services;
  /**
   * SIGHUP: reads the config (and the signing keys it names) again and swaps
   * it in atomically. A config with any problem is refused whole: every
   * problem is logged and the previous config keeps serving. `config` replaces
   * the value given at start (tests). Resolves true when the new config serves.
   */
  reload(config?: unknown): Promise<boolean>;
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
  installSha256((text) => createHash("sha256").update(text, "utf8").digest("hex"));
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
  const telemetry = await startTelemetrySdk(env, logger);
  const metrics = prometheusMetrics();
  // Audit lines to stdout, written once per event-loop turn; flushed at exit.
  const auditLines = lineBatch((chunk) => process.stdout.write(chunk));
  process.on("exit", auditLines.flush);
  const runtimes = nodeRuntimes({
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    clock,
    logger,
    audit: options.audit ?? jsonLinesAudit(auditLines.write),
    metrics,
    exposition: metrics.exposition,
    keyTiming: options.keyTiming,
  });
  if (config.replay.redis) {
    logger.info({ redis: describeRedis(config.replay.redis) }, "connecting to redis");
  }

  let services = await buildServices(loaded, runtimes.runtimeFor(loaded));

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
    requestTarget: (_request, bindings) =>
      (bindings as { incoming?: IncomingMessage }).incoming?.url,
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
      replay: services.replay.kind,
      issuers: Object.keys(config.ci_issuers).length,
      publishers: loaded.publishers.length,
    },
    "trustpub is serving",
  );

  let stopping: Promise<void> | undefined;
  let reloading: Promise<boolean> = Promise.resolve(true);
  const reloadOnce = async (value: unknown): Promise<boolean> => {
    if (stopping) return false;
    try {
      let next: LoadedConfig;
      if (value !== undefined || (options.config !== undefined && !configPath)) {
        next = await loadConfig(
          value ?? options.config,
          env,
          nodeFileSource(options.configDir ?? process.cwd()),
        );
      } else {
        logger.info({ config: configPath }, "reloading config");
        next = await readConfig(configPath!, env);
      }
      if (next.config.dev.demo_issuer && !isLoopbackHttp(`http://${bracketed(host)}`)) {
        throw new ConfigError([
          "dev.demo_issuer: the demo CI issuer is development-only; a reload cannot turn it on while trustpub listens beyond loopback",
        ]);
      }
      const runtime = runtimes.runtimeFor(next);
      if (runtime.replay !== services.replay) await reachable(runtime.replay);
      const built = await buildServices(next, runtime, undefined, services);
      if (stopping) return false;
      built.lifecycle.draining = services.lifecycle.draining;
      services = built;
      runtimes.release(next);
      for (const warning of next.warnings) logger.warn({ config: configPath }, warning);
      metrics.configReload("ok");
      logger.info(
        {
          replay: built.replay.kind,
          publishers: next.publishers.length,
          signing_keys: built.keys.keys.map((k) => `${k.kid}:${k.status}`),
        },
        "config reloaded",
      );
      return true;
    } catch (err) {
      runtimes.release(services.loaded);
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      for (const problem of problems) {
        logger.error({ problem }, "config reload refused; the previous config keeps serving");
      }
      metrics.configReload("error");
      return false;
    }
  };
  const reload = (value?: unknown) => {
    reloading = reloading.then(() => reloadOnce(value));
    return reloading;
  };

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
      await reloading;
      await runtimes.close();
      await telemetry?.shutdown();
      auditLines.flush();
      process.off("exit", auditLines.flush);
      logger.info({}, "stopped");
    })();
    return stopping;
  };
  return {
    url,
    port: boundPort,
    get services() {
      return services;
    },
    reload,
    shutdown,
  };
}

function describeRedis(topology: NonNullable<LoadedConfig["config"]["replay"]["redis"]>): string {
  const hide = (u: string) => u.replace(/\/\/[^@/]*@/, "//***@");
  if (typeof topology === "string") return hide(topology);
  if ("url" in topology) return hide(topology.url);
  if ("sentinels" in topology)
    return `sentinel ${topology.name} via ${topology.sentinels.map(hide).join(",")}`;
  return `cluster ${topology.cluster.map(hide).join(",")}`;
}

function bracketed(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** A new replay store must answer before it replaces the one serving. */
async function reachable(store: ReplayStore, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await store.ping();
      return;
    } catch {
      if (Date.now() >= deadline) {
        throw new ConfigError([
          `replay.redis: the new replay store did not answer within ${timeoutMs / 1000} s`,
        ]);
      }
      await sleep(100);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
