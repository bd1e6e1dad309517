import type { JWK } from "jose";
import type { CiIssuerConfig } from "../config/schema.js";
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
  /** The issuer whose URL is exactly `iss`, or undefined. Never does I/O. */
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
      patterns.push({ id, config, pattern: compileIssuerPattern(config.url), cache: new Map() });
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
        let issuer = p.cache.get(iss);
        if (issuer) {
          p.cache.delete(iss);
        } else {
          issuer = make(p.id, p.config, iss, { [p.pattern.name]: segment });
          if (p.cache.size >= MAX_ISSUERS_PER_PATTERN) p.cache.delete(p.cache.keys().next().value!);
        }
        p.cache.set(iss, issuer);
        return issuer;
      }
      return undefined;
    },
    resolved: () => [...exact.values(), ...patterns.flatMap((p) => [...p.cache.values()])],
  };
}
