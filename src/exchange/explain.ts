import { asTrustpubError, isTrustpubError } from "../errors.js";
import { verifyCiToken } from "../issuers/verify.js";
import { resolvePointer } from "../lib/pointer.js";
import { grantFor } from "../policy/grant.js";
import type { Permission } from "../policy/packages.js";
import { evaluatePublisher } from "../policy/publisher.js";
import { jtiKey } from "../replay/store.js";
import { registryForAudience } from "./registry.js";
import type { ExchangeDeps } from "./types.js";

export interface ExplainRequest {
  readonly token: string;
  readonly packages?: readonly string[] | undefined;
  readonly permissions?: readonly Permission[] | undefined;
}

export interface CheckExplanation {
  readonly key: string;
  readonly kind: string;
  readonly ok: boolean;
  /** absent, wrong_type or mismatch when the check failed. */
  readonly why?: string;
  /** The policy's value (admins may see it; exchange answers never show it). */
  readonly expected?: unknown;
  /** What the token carries for this key, after the provider's normalisation. */
  readonly actual?: unknown;
}

export interface PublisherExplanation {
  readonly id: string;
  readonly matches: boolean;
  readonly checks: readonly CheckExplanation[];
}

/** Where an exchange of this token would stop, and why; nothing is consumed. */
export interface Explanation {
  readonly verified: boolean;
  /** The reason an exchange would answer with, or undefined when it would succeed. */
  readonly reason?: string;
  readonly description?: string;
  readonly issuer?: string;
  readonly registry?: string;
  readonly claims?: Readonly<Record<string, unknown>>;
  readonly identity?: Readonly<Record<string, unknown>>;
  readonly publishers?: readonly PublisherExplanation[];
  readonly grant?: { packages: readonly string[]; permissions: readonly string[]; scope: string };
  /** Whether this `(iss, jti)` was already exchanged; `unknown` when the store did not answer. */
  readonly replayed?: boolean | "unknown";
}

/**
 * The exchange's decisions without its effects: verifies the token (which
 * may fetch issuer keys, as an exchange would), applies the provider's
 * refusals and every candidate publisher's checks, narrows the grant, and
 * reads (never writes) the replay store. Used by `POST /v1/admin/explain`.
 */
export async function explain(deps: ExchangeDeps, request: ExplainRequest): Promise<Explanation> {
  const { config } = deps;
  let verified: Awaited<ReturnType<typeof verifyCiToken>>;
  try {
    verified = await verifyCiToken(
      request.token,
      deps.directory,
      { clockSkewMs: config.defaults.clock_skew, maxTokenAgeMs: config.defaults.max_token_age },
      deps.clock,
    );
  } catch (err) {
    const error = asTrustpubError(err);
    return { verified: false, reason: error.reason, description: error.message };
  }
  const { issuer, claims } = verified;
  const base = { verified: true, issuer: issuer.id, claims };
  let registryId: string;
  try {
    registryId = registryForAudience(config, claims.aud).id;
  } catch (err) {
    const error = asTrustpubError(err);
    return { ...base, reason: error.reason, description: error.message };
  }

  const identity = issuer.provider.identity(claims, issuer.context);
  const candidates = await deps.publishers.candidates(registryId, issuer.id);
  const publishers = candidates.map((publisher): PublisherExplanation => {
    const results = evaluatePublisher(publisher, claims, identity);
    const checks = results.map((result): CheckExplanation => {
      const check = publisher.checks.find((c) => c.key === result.key);
      const actual = check
        ? check.pointer
          ? resolvePointer(claims, check.pointer)
          : identity.values[check.key]
        : undefined;
      return {
        key: result.key,
        kind: result.kind,
        ok: result.outcome.ok,
        ...(result.outcome.ok ? {} : { why: result.outcome.why }),
        ...(check ? { expected: publisher.spec.match[result.key], actual } : {}),
      };
    });
    return { id: publisher.id, matches: checks.every((c) => c.ok), checks };
  });

  let replayed: boolean | "unknown" = "unknown";
  if (typeof claims.jti === "string") {
    try {
      replayed = await deps.replay.has(
        await jtiKey(config.replay.key_prefix, issuer.url, claims.jti),
      );
    } catch {
      replayed = "unknown";
    }
  }
  const found = {
    ...base,
    registry: registryId,
    identity: identity.values,
    publishers,
    replayed,
  };

  const refusal = issuer.provider.refuse(claims, issuer.context);
  if (refusal !== undefined) return { ...found, reason: "forbidden_event", description: refusal };
  const matched = candidates.filter((_, i) => publishers[i]!.matches);
  if (matched.length === 0) {
    return {
      ...found,
      reason: "no_matching_publisher",
      description: "no publisher trusts this identity for this registry",
    };
  }
  try {
    const grant = grantFor(matched, request);
    const outcome = {
      ...found,
      grant: {
        packages: grant.packages,
        permissions: grant.permissions,
        scope: grant.scope.join(" "),
      },
    };
    return replayed === true
      ? { ...outcome, reason: "replayed_token", description: "token has already been used" }
      : outcome;
  } catch (err) {
    if (!isTrustpubError(err)) throw err;
    return { ...found, reason: err.reason, description: err.message };
  }
}
