import type { ParsedConfig } from "../config/schema.js";
import { TrustpubError } from "../errors.js";
import type { ExchangeGuards } from "../exchange/types.js";
import type { Clock } from "../lib/clock.js";
import type { Logger } from "../telemetry/logger.js";
import {
  clientKey,
  compileTrustedProxies,
  formatAddress,
  type IpAddress,
  resolveClient,
} from "./client-address.js";
import type { LimitDecision, RateLimiter } from "./limiter.js";

export type RateLimitSettings = ParsedConfig["rate_limits"];

/** One log line about refused clients per this interval, however large the flood. */
const LOG_EVERY_MS = 10_000;

/**
 * The configured limits (SPEC section 3, `rate_limits`) on top of a limiter:
 * per client before any verification work, per CI issuer and per publisher
 * after verification and before the JTI is claimed, so a refused exchange
 * never burns its token and can be retried after `Retry-After`.
 */
export interface RateLimits {
  readonly enabled: boolean;
  /** The caller's address: the peer, or what trusted proxies report in X-Forwarded-For. */
  clientOf(peer: string | undefined, forwardedFor: string | undefined): IpAddress | undefined;
  /** Throws `rate_limited` when this client is over its rate. An unknown client is not limited. */
  checkClient(client: IpAddress | undefined): Promise<void>;
  /** Per-issuer and per-publisher limits, for the exchange; undefined when limits are off. */
  readonly guards: ExchangeGuards | undefined;
}

export function buildRateLimits(
  settings: RateLimitSettings,
  limiter: RateLimiter,
  deps: { clock: Clock; logger: Logger },
): RateLimits {
  const proxies = compileTrustedProxies(settings.trusted_proxies);
  let lastLogAt = Number.NEGATIVE_INFINITY;
  let unlogged = 0;

  /** The answer to an exchange a limit refused: 429 with Retry-After. */
  const refusal = (decision: LimitDecision, description: string) =>
    new TrustpubError("rate_limited", description, { retryAfter: decision.retryAfterMs / 1000 });

  return {
    enabled: settings.enabled,
    clientOf: (peer, forwardedFor) => resolveClient(peer, forwardedFor, proxies),
    async checkClient(client) {
      if (!settings.enabled || client === undefined) return;
      const decision = await limiter.take(`client:${clientKey(client)}`, settings.per_client);
      if (decision.allowed) return;
      unlogged++;
      const now = deps.clock.now();
      if (now - lastLogAt >= LOG_EVERY_MS) {
        deps.logger.warn(
          { client: formatAddress(client), refused: unlogged },
          "clients over the per-client rate limit are refused",
        );
        lastLogAt = now;
        unlogged = 0;
      }
      throw refusal(decision, "too many requests");
    },
    guards: settings.enabled
      ? {
          // One all-or-nothing take: an exchange refused by one limit spends
          // nothing of the others, and it is one Redis round trip. The group
          // is the issuer's: each publisher trusts exactly one issuer.
          async afterVerify(issuer, publishers) {
            const decision = await limiter.takeAll(
              [
                { key: `issuer:${issuer.id}`, rate: settings.per_issuer },
                ...publishers.map((id) => ({
                  key: `publisher:${id}`,
                  rate: settings.per_publisher,
                })),
              ],
              `issuer:${issuer.id}`,
            );
            if (decision.allowed) return;
            throw refusal(
              decision,
              decision.refusedBy === 0
                ? "too many exchanges for this CI issuer"
                : "too many exchanges for this publisher",
            );
          },
        }
      : undefined,
  };
}
