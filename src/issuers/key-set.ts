import { createLocalJWKSet, errors, type JWK, type JWSHeaderParameters } from "jose";
import { TrustpubError } from "../errors.js";
import type { Clock } from "../lib/clock.js";
import type { Logger } from "../telemetry/logger.js";
import { type FetchFn, fetchIssuerJson, ISSUER_FETCH_LIMITS } from "./fetch.js";
import { usableKeys } from "./usable-keys.js";

export type VerifyKey = Awaited<ReturnType<ReturnType<typeof createLocalJWKSet>>>;

/** Observes key fetches, for metrics. */
export interface KeyFetchObserver {
  keyFetch(issuer: string, outcome: "ok" | "error"): void;
}

export interface KeySetTiming {
  /** Minimum time between two fetches triggered by unknown `kid`s. */
  readonly cooldownMs: number;
  /** Refresh in the background once the keys are this old. */
  readonly refreshAfterMs: number;
  /** Serve the last good keys this long while the issuer is down, then refuse. */
  readonly maxStaleMs: number;
  /** While no keys were ever obtained, retry no more often than this. */
  readonly initialRetryMs: number;
}

export const DEFAULT_KEY_TIMING: KeySetTiming = {
  cooldownMs: 30_000,
  refreshAfterMs: 10 * 60_000,
  maxStaleMs: 24 * 3_600_000,
  initialRetryMs: 1_000,
};

interface Loaded {
  readonly select: ReturnType<typeof createLocalJWKSet>;
  readonly fetchedAt: number;
  readonly count: number;
}

export interface KeySet {
  /** The key for this header, refreshing once on an unknown `kid` when the cooldown allows. */
  resolve(header: JWSHeaderParameters): Promise<VerifyKey>;
  /** True when keys are loaded and fresh enough to use. */
  hasKeys(): boolean;
}

/** Keys fixed in the config (`jwks` or `jwks_file`): never fetched. */
export function staticKeySet(jwks: readonly JWK[]): KeySet {
  const select = createLocalJWKSet({ keys: [...jwks] });
  return {
    resolve: (header) => selectKey(select, header),
    hasKeys: () => jwks.length > 0,
  };
}

export interface RemoteKeySetOptions {
  readonly issuerId: string;
  readonly issuerUrl: string;
  /** Given in config: skip discovery. */
  readonly jwksUri?: string | undefined;
  readonly allowHttp: boolean;
  readonly fetch: FetchFn;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly observer?: KeyFetchObserver | undefined;
  readonly timing?: KeySetTiming;
}

/**
 * Keys from OIDC discovery (or a configured `jwks_uri`), cached per issuer.
 * One fetch at a time (single flight); unknown `kid`s refresh at most once
 * per cooldown; a failed or empty fetch never replaces good keys; keys older
 * than `maxStaleMs` are no longer served.
 */
export function remoteKeySet(options: RemoteKeySetOptions): KeySet {
  const timing = options.timing ?? DEFAULT_KEY_TIMING;
  const limits = { ...ISSUER_FETCH_LIMITS, allowHttp: options.allowHttp };
  let loaded: Loaded | undefined;
  let jwksUri = options.jwksUri;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | undefined;

  async function fetchKeys(): Promise<void> {
    if (jwksUri === undefined) jwksUri = await discoverJwksUri();
    const keys = usableKeys(await fetchIssuerJson(jwksUri, limits, options.fetch));
    if (keys === undefined) throw new Error(`${jwksUri} is not a JWKS document`);
    if (keys.length === 0) throw new Error(`${jwksUri} holds no usable signing key`);
    loaded = {
      select: createLocalJWKSet({ keys }),
      fetchedAt: options.clock.now(),
      count: keys.length,
    };
  }

  async function discoverJwksUri(): Promise<string> {
    const base = options.issuerUrl.replace(/\/$/, "");
    const doc = await fetchIssuerJson(
      `${base}/.well-known/openid-configuration`,
      limits,
      options.fetch,
    );
    const issuer = (doc as { issuer?: unknown } | null)?.issuer;
    const uri = (doc as { jwks_uri?: unknown } | null)?.jwks_uri;
    if (issuer !== options.issuerUrl) {
      throw new Error("discovery document's issuer differs from the configured URL");
    }
    if (typeof uri !== "string") throw new Error("discovery document has no jwks_uri");
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      throw new Error("discovery document's jwks_uri is not a URL");
    }
    if (parsed.host !== new URL(options.issuerUrl).host) {
      throw new Error("discovery document's jwks_uri is on another host than the issuer");
    }
    return uri;
  }

  function refresh(): Promise<void> {
    if (inflight) return inflight;
    lastAttemptAt = options.clock.now();
    inflight = fetchKeys()
      .then(() => {
        options.observer?.keyFetch(options.issuerId, "ok");
        options.logger.info(
          { issuer: options.issuerId, keys: loaded?.count },
          "issuer keys refreshed",
        );
      })
      .catch((err: unknown) => {
        options.observer?.keyFetch(options.issuerId, "error");
        const detail =
          err instanceof TrustpubError && err.cause instanceof Error
            ? err.cause.message
            : (err as Error).message;
        options.logger.warn(
          { issuer: options.issuerId, err: detail },
          "issuer key fetch failed; keeping previous keys",
        );
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  function fresh(now: number): boolean {
    return loaded !== undefined && now - loaded.fetchedAt <= timing.maxStaleMs;
  }

  return {
    hasKeys: () => fresh(options.clock.now()),
    async resolve(header) {
      const now = options.clock.now();
      if (!fresh(now)) {
        const wait = loaded === undefined ? timing.initialRetryMs : timing.cooldownMs;
        if (now - lastAttemptAt >= wait || inflight) await refresh();
        if (!fresh(options.clock.now())) {
          throw new TrustpubError("unavailable", "issuer keys are unobtainable");
        }
      } else if (
        now - loaded!.fetchedAt > timing.refreshAfterMs &&
        now - lastAttemptAt >= timing.cooldownMs
      ) {
        void refresh();
      }
      try {
        return await selectKey(loaded!.select, header);
      } catch (err) {
        if (!(err instanceof UnknownKid)) throw err;
        if (options.clock.now() - lastAttemptAt < timing.cooldownMs && !inflight) {
          throw new TrustpubError("invalid_signature", "no issuer key matches the token's kid");
        }
        await refresh();
        try {
          return await selectKey(loaded!.select, header);
        } catch (again) {
          if (again instanceof UnknownKid) {
            throw new TrustpubError("invalid_signature", "no issuer key matches the token's kid");
          }
          throw again;
        }
      }
    },
  };
}

class UnknownKid extends Error {}

async function selectKey(
  select: ReturnType<typeof createLocalJWKSet>,
  header: JWSHeaderParameters,
): Promise<VerifyKey> {
  try {
    return await select(header);
  } catch (err) {
    if (err instanceof errors.JWKSNoMatchingKey) throw new UnknownKid();
    if (err instanceof errors.JWKSMultipleMatchingKeys) {
      throw new TrustpubError(
        "invalid_signature",
        "the token names no kid and several issuer keys fit",
      );
    }
    throw new TrustpubError("invalid_signature", "the issuer key could not be used", {
      cause: err,
    });
  }
}
