import type { LoadedConfig } from "./config/load.js";
import type { ParsedConfig } from "./config/schema.js";
import { createDemoIssuer, type DemoIssuer } from "./dev/demo-issuer.js";
import type { ExchangeDeps, ExchangeGuards } from "./exchange/types.js";
import { buildIssuerDirectory, type IssuerDirectory } from "./issuers/directory.js";
import type { FetchFn } from "./issuers/fetch.js";
import type { KeyFetchObserver, KeySetTiming } from "./issuers/key-set.js";
import type { Clock } from "./lib/clock.js";
import type { RateLimiter } from "./limits/limiter.js";
import { memoryRateLimiter } from "./limits/memory.js";
import { buildRateLimits, type RateLimits } from "./limits/rate-limits.js";
import { type AdminPublisherStore, adminPublisherStore } from "./policy/admin-store.js";
import type { SharedPublishers } from "./policy/shared-publishers.js";
import { type PublisherStore, staticPublisherStore } from "./policy/store.js";
import type { ReplayStore } from "./replay/store.js";
import type { AuditSink } from "./telemetry/audit.js";
import type { Logger } from "./telemetry/logger.js";
import type { Metrics, MetricsExposition } from "./telemetry/metrics.js";
import { ephemeralKeyRing, loadSigningKeys, type SigningKeyRing } from "./tokens/keys.js";
import { type IssuedToken, issuedTokenVerifier } from "./tokens/verify-issued.js";

/** What the runtime entry provides: the only place Node, Workers or tests differ. */
export interface Runtime {
  readonly fetch: FetchFn;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit: AuditSink;
  readonly replay: ReplayStore;
  readonly guards?: ExchangeGuards | undefined;
  /** Counters for `rate_limits` (Redis when configured); a memory limiter when absent. */
  readonly limiter?: RateLimiter | undefined;
  readonly keyObserver?: KeyFetchObserver | undefined;
  readonly keyTiming?: KeySetTiming | undefined;
  /** Replaces the publishers of the config file (the admin API's store wraps the file's). */
  readonly publishers?: ((fromFile: PublisherStore) => PublisherStore) | undefined;
  /** Counters and histograms (`GET /metrics` serves `exposition`). */
  readonly metrics?: Metrics | undefined;
  readonly exposition?: MetricsExposition | undefined;
  /** The admin API's publishers, replicated through Redis (or memory); enables the admin API. */
  readonly adminPublishers?: SharedPublishers | undefined;
}

/** Everything a request handler can reach. Built once per config (a reload builds a new one). */
export interface Services {
  readonly config: ParsedConfig;
  readonly loaded: LoadedConfig;
  readonly runtime: Runtime;
  readonly directory: IssuerDirectory;
  readonly publishers: PublisherStore;
  readonly replay: ReplayStore;
  readonly keys: SigningKeyRing;
  readonly lifecycle: { draining: boolean };
  /** The configured rate limits: per client (a middleware), per issuer and publisher (guards). */
  readonly limits: RateLimits;
  /** The development-only demo CI issuer, when `dev.demo_issuer` is on. */
  readonly demo?: DemoIssuer | undefined;
  /** The admin API's view of the publishers, when the runtime provides a store for them. */
  readonly admin?: AdminPublisherStore | undefined;
  exchangeDeps(): ExchangeDeps;
  verifyIssued(token: string): Promise<IssuedToken | undefined>;
}

export async function buildServices(
  loaded: LoadedConfig,
  runtime: Runtime,
  keys?: SigningKeyRing,
  /** The services a reload replaces: what did not change is kept (issuer key caches, an ephemeral key). */
  previous?: Services,
): Promise<Services> {
  const { config } = loaded;
  const keepEphemeral =
    !loaded.signingJwks &&
    previous?.keys.ephemeral === true &&
    previous.keys.current.alg === config.signing.alg;
  const ring =
    keys ??
    (loaded.signingJwks
      ? await loadSigningKeys(loaded.signingJwks)
      : keepEphemeral
        ? previous.keys
        : await ephemeralKeyRing(config.signing.alg));
  runtime.metrics?.signingKeys(countByStatus(ring));
  if (ring.ephemeral && !keepEphemeral) {
    runtime.logger.warn(
      {},
      "no signing.keys_file: using an ephemeral signing key; issued tokens die with this process",
    );
  }
  if (runtime.replay.kind === "memory") {
    runtime.logger.warn(
      {},
      "no Redis configured: replay protection holds for this one process only",
    );
  }
  const sameIssuers =
    previous !== undefined &&
    JSON.stringify([previous.config.ci_issuers, previous.loaded.issuerJwks]) ===
      JSON.stringify([config.ci_issuers, loaded.issuerJwks]);
  const directory = sameIssuers
    ? previous.directory
    : buildIssuerDirectory(config.ci_issuers, loaded.issuerJwks, {
        fetch: runtime.fetch,
        clock: runtime.clock,
        logger: runtime.logger,
        observer: runtime.keyObserver,
        timing: runtime.keyTiming,
      });
  const admin = runtime.adminPublishers
    ? adminPublisherStore(runtime.adminPublishers, config, loaded.publishers, runtime.logger)
    : undefined;
  const fromFile = admin ?? staticPublisherStore(loaded.publishers);
  const limits = buildRateLimits(
    config.rate_limits,
    runtime.limiter ?? memoryRateLimiter(runtime.clock),
    runtime,
  );
  const publishers = runtime.publishers ? runtime.publishers(fromFile) : fromFile;
  const verifyIssued = issuedTokenVerifier(
    ring,
    config.issuer,
    config.defaults.clock_skew / 1000,
    () => runtime.clock.now(),
  );
  const deps: ExchangeDeps = {
    config,
    directory,
    publishers,
    replay: runtime.replay,
    keys: () => ring,
    clock: runtime.clock,
    audit: runtime.audit,
    logger: runtime.logger,
    guards: runtime.guards ?? limits.guards,
  };
  let demo: DemoIssuer | undefined;
  if (config.dev.demo_issuer) {
    demo = await createDemoIssuer(config.issuer, () => Math.floor(runtime.clock.now() / 1000));
    runtime.logger.warn(
      { demo_issuer: demo.url },
      "DEVELOPMENT ONLY: the demo CI issuer is enabled; anyone who can reach it can mint CI tokens",
    );
  }
  return {
    config,
    loaded,
    demo,
    admin,
    runtime,
    directory,
    publishers,
    replay: runtime.replay,
    keys: ring,
    lifecycle: { draining: false },
    limits,
    exchangeDeps: () => deps,
    verifyIssued,
  };
}

function countByStatus(ring: SigningKeyRing): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of ring.keys) counts[key.status] = (counts[key.status] ?? 0) + 1;
  return counts;
}
