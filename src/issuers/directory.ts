import type { JWK } from "jose";
import type { CiIssuerConfig } from "../config/schema.js";
import { TrustpubError } from "../errors.js";
import type { Clock } from "../lib/clock.js";
import { providerFor } from "../providers/index.js";
import type { IssuerContext, Provider } from "../providers/types.js";
import type { Logger } from "../telemetry/logger.js";
import type { FetchFn } from "./fetch.js";
import {
  type KeyFetchObserver,
  type KeySet,
  type KeySetTiming,
  remoteKeySet,
  staticKeySet,
} from "./key-set.js";
import { compileIssuerPattern, type IssuerPattern, isIssuerPattern } from "./pattern.js";

/** A configured CI issuer resolved for one concrete `iss` value. */
export interface TrustedIssuer {
  readonly id: string;
  readonly url: string;
  readonly provider: Provider;
  readonly config: CiIssuerConfig;
  readonly context: IssuerContext;
  readonly keys: KeySet;
}

export interface IssuerDirectory {
  /**
   * The issuer whose URL is exactly `iss` or matches a pattern, or undefined.
   * Never does I/O. Throws `rate_limited` when a pattern has admitted too
   * many issuers without keys lately (see COLD_ISSUER_BUDGET).
   */
  lookup(iss: string): TrustedIssuer | undefined;
  /** The issuers resolved so far (exact ones always), for readiness and metrics. */
  resolved(): readonly TrustedIssuer[];
}

export interface DirectoryDeps {
  readonly fetch: FetchFn;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly observer?: KeyFetchObserver | undefined;
  readonly timing?: KeySetTiming | undefined;
}

/** How many concrete issuers one pattern keeps key caches for; the oldest is dropped past it. */
export const MAX_ISSUERS_PER_PATTERN = 256;

/**
 * How many times per window one pattern may hand out an issuer that has no
 * keys yet (a new org, or one whose discovery failed). Each such lookup may
 * cost a discovery fetch, and anyone can invent `iss` values that match a
 * pattern, so this bounds the fetches a flood of invented org ids causes;
 * issuers whose keys are cached are never limited.
 */
export const COLD_ISSUER_BUDGET = { max: 30, windowMs: 60_000 } as const;

/**
 * Builds the allowlist. Exact URLs are a map lookup; patterns are anchored
 * and tried only when no exact URL matches. Each concrete issuer gets its own
 * key cache; caches for pattern issuers are bounded.
 */
export function buildIssuerDirectory(
  issuers: Readonly<Record<string, CiIssuerConfig>>,
  staticJwks: Readonly<Record<string, readonly JWK[]>>,
  deps: DirectoryDeps,
): IssuerDirectory {
  const exact = new Map<string, TrustedIssuer>();
  const patterns: {
    id: string;
    config: CiIssuerConfig;
    pattern: IssuerPattern;
    cache: Map<string, TrustedIssuer>;
    cold: { windowStart: number; used: number };
  }[] = [];

  const make = (
    id: string,
    config: CiIssuerConfig,
    url: string,
    params: Record<string, string>,
  ): TrustedIssuer => {
    const jwks = staticJwks[id];
    const keys = jwks
      ? staticKeySet(jwks)
      : remoteKeySet({
          issuerId: id,
          issuerUrl: url,
          jwksUri: config.jwks_uri,
          allowHttp: config.allow_http,
          fetch: deps.fetch,
          clock: deps.clock,
          logger: deps.logger,
          observer: deps.observer,
          timing: deps.timing,
        });
    return Object.freeze({
      id,
      url,
      provider: providerFor(config.provider),
      config,
      context: Object.freeze({
        id,
        url,
        allowEvents: config.allow_events,
        params: Object.freeze(params),
      }),
      keys,
    });
  };

  for (const [id, config] of Object.entries(issuers)) {
    if (isIssuerPattern(config.url)) {
      patterns.push({
        id,
        config,
        pattern: compileIssuerPattern(config.url),
        cache: new Map(),
        cold: { windowStart: Number.NEGATIVE_INFINITY, used: 0 },
      });
    } else {
      exact.set(config.url, make(id, config, config.url, {}));
    }
  }

  return {
    lookup(iss) {
      const found = exact.get(iss);
      if (found) return found;
      for (const p of patterns) {
        const segment = p.pattern.match(iss);
        if (segment === undefined) continue;
        const cached = p.cache.get(iss);
        if (!cached?.keys.hasKeys()) spendColdBudget(p.cold, deps.clock.now());
        let issuer = cached;
        if (issuer) {
          p.cache.delete(iss);
        } else {
          issuer = make(p.id, p.config, iss, { [p.pattern.name]: segment });
          if (p.cache.size >= MAX_ISSUERS_PER_PATTERN) p.cache.delete(evictionVictim(p.cache));
        }
        p.cache.set(iss, issuer);
        return issuer;
      }
      return undefined;
    },
    resolved: () => [...exact.values(), ...patterns.flatMap((p) => [...p.cache.values()])],
  };
}

function spendColdBudget(cold: { windowStart: number; used: number }, now: number): void {
  if (now - cold.windowStart >= COLD_ISSUER_BUDGET.windowMs) {
    cold.windowStart = now;
    cold.used = 0;
  }
  if (cold.used >= COLD_ISSUER_BUDGET.max) {
    throw new TrustpubError("rate_limited", "too many new issuers for this pattern; retry later", {
      retryAfter: (cold.windowStart + COLD_ISSUER_BUDGET.windowMs - now) / 1000,
    });
  }
  cold.used++;
}

/**
 * The entry to drop from a full pattern cache: the least recently used one
 * without keys (an invented or broken issuer) if any, else the least
 * recently used. Issuers in real use keep their keys through a flood.
 */
function evictionVictim(cache: Map<string, TrustedIssuer>): string {
  for (const [iss, issuer] of cache) if (!issuer.keys.hasKeys()) return iss;
  return cache.keys().next().value!;
}
