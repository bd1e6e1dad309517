import type { LoadedConfig } from "./config/load.js";
import type { FetchFn } from "./issuers/fetch.js";
import type { KeySetTiming } from "./issuers/key-set.js";
import type { Clock } from "./lib/clock.js";
import type { RateLimiter } from "./limits/limiter.js";
import { memoryRateLimiter } from "./limits/memory.js";
import { redisRateLimiter } from "./limits/redis.js";
import { redisPublisherRepository } from "./policy/redis-repository.js";
import { memoryPublisherRepository, type PublisherRepository } from "./policy/repository.js";
import { type SharedPublishers, sharedPublishers } from "./policy/shared-publishers.js";
import { memoryReplayStore } from "./replay/memory.js";
import { redisReplayStore } from "./replay/redis.js";
import { createRedisClient } from "./replay/redis-client.js";
import type { ReplayStore } from "./replay/store.js";
import type { Runtime } from "./services.js";
import { type AuditSink, fanOutAudit } from "./telemetry/audit.js";
import type { Logger } from "./telemetry/logger.js";
import { type Metrics, type MetricsExposition, metricsAudit } from "./telemetry/metrics.js";
import { cloudEventsWebhook, type WebhookSink } from "./telemetry/webhook.js";

export interface NodeRuntimeOptions {
  readonly fetch: FetchFn;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where audit events always go (stdout JSON lines). */
  readonly audit: AuditSink;
  readonly metrics: Metrics;
  readonly exposition?: MetricsExposition | undefined;
  readonly keyTiming?: KeySetTiming | undefined;
}

/** One Redis connection (or the in-memory stand-in) and what lives on it. */
interface Connection {
  readonly replay: ReplayStore;
  /** Rate-limit counters: shared through Redis when there is one, else this process's. */
  readonly limiter: RateLimiter;
  /** The admin publishers on this connection, under a key prefix. */
  repository(prefix: string): PublisherRepository;
}

/** How long a replaced Redis connection or webhook stays open for requests still using it. */
const RELEASE_GRACE_MS = 10_000;
/** How long a replaced or closing webhook may take to deliver what it holds. */
const WEBHOOK_FLUSH_MS = 5_000;

/**
 * The Node adapters a config needs (Redis connection, replay store, admin
 * publisher store, audit webhook), kept across reloads while their settings
 * do not change: a SIGHUP that only rotates keys keeps the same Redis
 * connection, the same in-memory replay records and the same webhook queue.
 */
export interface NodeRuntimes {
  runtimeFor(loaded: LoadedConfig): Runtime;
  /** Closes, after a grace period, the adapters `inUse` does not use. */
  release(inUse: LoadedConfig): void;
  /** Closes everything now (shutdown). */
  close(): Promise<void>;
}

export function nodeRuntimes(options: NodeRuntimeOptions): NodeRuntimes {
  const connections = new Map<string, Connection>();
  const publishers = new Map<string, SharedPublishers>();
  const webhooks = new Map<string, WebhookSink>();
  const retiring = new Map<Connection, ReturnType<typeof setTimeout>>();
  const { logger, metrics } = options;

  // The replay store depends only on the connection; memory records survive any other change.
  const connectionKey = ({ config }: LoadedConfig) =>
    JSON.stringify([config.replay.redis ?? null, config.replay.command_timeout]);
  const publishersKey = (loaded: LoadedConfig) =>
    JSON.stringify([
      connectionKey(loaded),
      loaded.config.replay.key_prefix,
      loaded.config.admin.poll_interval,
    ]);
  const webhookKey = ({ config, auditWebhookToken }: LoadedConfig) =>
    config.audit.webhook === undefined
      ? undefined
      : JSON.stringify([config.audit, auditWebhookToken ?? null, config.issuer]);

  const connectionFor = (loaded: LoadedConfig): Connection => {
    const key = connectionKey(loaded);
    let connection = connections.get(key);
    if (connection) return connection;
    const { config } = loaded;
    if (config.replay.redis) {
      const timeout = config.replay.command_timeout;
      const client = createRedisClient(config.replay.redis, timeout, logger);
      connection = {
        replay: redisReplayStore(client, metrics),
        // Its own connection, so a burst of limiter calls never queues behind JTI claims;
        // it waits for Redis at most half the command timeout, then decides locally.
        limiter: redisRateLimiter(createRedisClient(config.replay.redis, timeout, logger), {
          prefix: config.replay.key_prefix,
          clock: options.clock,
          logger,
          timeoutMs: Math.max(10, Math.min(250, Math.floor(timeout / 2))),
          fallback: memoryRateLimiter(options.clock),
        }),
        repository: (prefix) => redisPublisherRepository(client, prefix, metrics),
      };
    } else {
      const memory = memoryPublisherRepository();
      connection = {
        replay: memoryReplayStore(options.clock),
        limiter: memoryRateLimiter(options.clock),
        repository: () => memory,
      };
    }
    connections.set(key, connection);
    return connection;
  };

  const publishersFor = (loaded: LoadedConfig, connection: Connection): SharedPublishers => {
    const key = publishersKey(loaded);
    let shared = publishers.get(key);
    if (shared) return shared;
    shared = sharedPublishers(connection.repository(loaded.config.replay.key_prefix), {
      logger,
      pollMs: loaded.config.admin.poll_interval,
    });
    shared.start();
    void shared.refresh();
    publishers.set(key, shared);
    return shared;
  };

  const webhookFor = (loaded: LoadedConfig): WebhookSink | undefined => {
    const key = webhookKey(loaded);
    if (key === undefined) return undefined;
    const existing = webhooks.get(key);
    if (existing) return existing;
    const { audit, issuer } = loaded.config;
    const sink = cloudEventsWebhook({
      url: audit.webhook!,
      source: issuer,
      fetch: options.fetch,
      logger,
      metrics,
      bearerToken: loaded.auditWebhookToken,
      queueSize: audit.queue_size,
      maxAttempts: audit.max_attempts,
      timeoutMs: audit.timeout,
      backoffMs: audit.retry_backoff,
      maxBackoffMs: 30_000,
    });
    webhooks.set(key, sink);
    return sink;
  };

  return {
    runtimeFor(loaded) {
      const connection = connectionFor(loaded);
      const shared = publishersFor(loaded, connection);
      const webhook = webhookFor(loaded);
      const sinks = [options.audit, metricsAudit(metrics), ...(webhook ? [webhook] : [])];
      return {
        fetch: options.fetch,
        clock: options.clock,
        logger,
        audit: fanOutAudit(...sinks),
        replay: connection.replay,
        limiter: connection.limiter,
        keyObserver: metrics,
        keyTiming: options.keyTiming,
        metrics,
        exposition: options.exposition,
        adminPublishers: shared,
      };
    },
    release(inUse) {
      for (const [key, shared] of publishers) {
        if (key === publishersKey(inUse)) continue;
        publishers.delete(key);
        shared.stop();
      }
      for (const [key, connection] of connections) {
        if (key === connectionKey(inUse)) continue;
        connections.delete(key);
        const timer = setTimeout(() => {
          retiring.delete(connection);
          void connection.replay.close();
          void connection.limiter.close();
        }, RELEASE_GRACE_MS);
        timer.unref?.();
        retiring.set(connection, timer);
      }
      for (const [key, sink] of webhooks) {
        if (key === webhookKey(inUse)) continue;
        webhooks.delete(key);
        void sink.close(WEBHOOK_FLUSH_MS);
      }
    },
    async close() {
      for (const shared of publishers.values()) shared.stop();
      for (const timer of retiring.values()) clearTimeout(timer);
      await Promise.all([
        ...[...connections.values(), ...retiring.keys()].flatMap((c) => [
          c.replay.close(),
          c.limiter.close(),
        ]),
        ...[...webhooks.values()].map((sink) => sink.close(WEBHOOK_FLUSH_MS)),
      ]);
      publishers.clear();
      connections.clear();
      retiring.clear();
      webhooks.clear();
    },
  };
}
