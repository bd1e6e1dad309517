import type { LoadedConfig } from "./config/load.js";
import type { FetchFn } from "./issuers/fetch.js";
import type { KeySetTiming } from "./issuers/key-set.js";
import type { Clock } from "./lib/clock.js";
import { redisPublisherRepository } from "./policy/redis-repository.js";
import { memoryPublisherRepository } from "./policy/repository.js";
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

interface Store {
  readonly replay: ReplayStore;
  readonly publishers: SharedPublishers;
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
  const stores = new Map<string, Store>();
  const webhooks = new Map<string, WebhookSink>();
  const retiring = new Map<Store, ReturnType<typeof setTimeout>>();
  const { logger, metrics } = options;

  const storeKey = ({ config }: LoadedConfig) =>
    JSON.stringify([
      config.replay.redis ?? null,
      config.replay.command_timeout,
      config.replay.key_prefix,
      config.admin.poll_interval,
    ]);
  const webhookKey = ({ config, auditWebhookToken }: LoadedConfig) =>
    config.audit.webhook === undefined
      ? undefined
      : JSON.stringify([config.audit, auditWebhookToken ?? null, config.issuer]);

  const storeFor = (loaded: LoadedConfig): Store => {
    const key = storeKey(loaded);
    const existing = stores.get(key);
    if (existing) return existing;
    const { config } = loaded;
    let store: Store;
    if (config.replay.redis) {
      const client = createRedisClient(config.replay.redis, config.replay.command_timeout, logger);
      store = {
        replay: redisReplayStore(client, metrics),
        publishers: sharedPublishers(
          redisPublisherRepository(client, config.replay.key_prefix, metrics),
          { logger, pollMs: config.admin.poll_interval },
        ),
      };
    } else {
      store = {
        replay: memoryReplayStore(options.clock),
        publishers: sharedPublishers(memoryPublisherRepository(), {
          logger,
          pollMs: config.admin.poll_interval,
        }),
      };
    }
    store.publishers.start();
    void store.publishers.refresh();
    stores.set(key, store);
    return store;
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

  const closeStore = async (store: Store) => {
    store.publishers.stop();
    await store.replay.close();
  };

  return {
    runtimeFor(loaded) {
      const store = storeFor(loaded);
      const webhook = webhookFor(loaded);
      const sinks = [options.audit, metricsAudit(metrics), ...(webhook ? [webhook] : [])];
      return {
        fetch: options.fetch,
        clock: options.clock,
        logger,
        audit: fanOutAudit(...sinks),
        replay: store.replay,
        keyObserver: metrics,
        keyTiming: options.keyTiming,
        metrics,
        exposition: options.exposition,
        adminPublishers: store.publishers,
      };
    },
    release(inUse) {
      const keepStore = storeKey(inUse);
      const keepWebhook = webhookKey(inUse);
      for (const [key, store] of stores) {
        if (key === keepStore) continue;
        stores.delete(key);
        const timer = setTimeout(() => {
          retiring.delete(store);
          void closeStore(store);
        }, RELEASE_GRACE_MS);
        timer.unref?.();
        retiring.set(store, timer);
      }
      for (const [key, sink] of webhooks) {
        if (key === keepWebhook) continue;
        webhooks.delete(key);
        void sink.close(WEBHOOK_FLUSH_MS);
      }
    },
    async close() {
      for (const timer of retiring.values()) clearTimeout(timer);
      await Promise.all([
        ...[...stores.values(), ...retiring.keys()].map(closeStore),
        ...[...webhooks.values()].map((sink) => sink.close(WEBHOOK_FLUSH_MS)),
      ]);
      stores.clear();
      retiring.clear();
      webhooks.clear();
    },
  };
}
