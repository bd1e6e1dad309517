import type { Span } from "@opentelemetry/api";
import { asTrustpubError, TrustpubError } from "../errors.js";
import type { TrustedIssuer } from "../issuers/directory.js";
import { verifyCiToken } from "../issuers/verify.js";
import { nowSeconds } from "../lib/clock.js";
import { sha256Hex } from "../lib/sha256.js";
import { grantFor } from "../policy/grant.js";
import { publisherMatches } from "../policy/publisher.js";
import { identify } from "../providers/identify.js";
import type { Identity } from "../providers/types.js";
import { jtiKey } from "../replay/store.js";
import { inSpan } from "../telemetry/tracing.js";
import { mintToken } from "../tokens/mint.js";
import { registryForAudience } from "./registry.js";
import type { ExchangeDeps, ExchangeRequest, ExchangeResult } from "./types.js";

/**
 * The exchange, top to bottom: verify the CI token, find its registry, apply
 * the provider's refusals, select the publishers that trust this identity,
 * narrow the grant, claim the `(iss, jti)` once, and mint. The JTI is claimed
 * only after everything else passed, so a refused token is never burnt, and
 * before minting, so no token exists unless the claim succeeded.
 * Emits exactly one audit event whatever happens.
 */
export async function exchange(
  deps: ExchangeDeps,
  request: ExchangeRequest,
): Promise<ExchangeResult> {
  const started = deps.clock.now();
  const facts: AuditFacts = {};
  return inSpan("exchange", async (span) => {
    span.setAttribute("trustpub.endpoint", request.endpoint);
    try {
      const result = await runExchange(deps, request, facts);
      annotate(span, facts, "success");
      span.setAttribute("trustpub.issued.jti", result.jti);
      deps.audit.emit({
        ...baseEvent(deps, request, facts, started),
        outcome: "success",
        registry: result.registryId,
        publishers: result.publishers,
        issued: { jti: result.jti, sha256: await sha256Hex(result.token), exp: result.exp },
      });
      return result;
    } catch (err) {
      const error = asTrustpubError(err);
      if (error.reason === "internal")
        deps.logger.error({ err: String(err), stack: (err as Error)?.stack }, "exchange failed");
      const outcome =
        error.reason === "internal" || error.reason === "unavailable" ? "error" : "refused";
      annotate(span, facts, outcome, error.reason);
      deps.audit.emit({
        ...baseEvent(deps, request, facts, started),
        outcome,
        reason: error.reason,
      });
      throw error;
    }
  });
}

/** Span attributes of the exchange: who asked and what came of it, never a token. */
function annotate(span: Span, facts: AuditFacts, outcome: string, reason?: string): void {
  span.setAttribute("trustpub.outcome", outcome);
  if (reason !== undefined) span.setAttribute("trustpub.reason", reason);
  if (facts.issuer) span.setAttribute("trustpub.issuer", facts.issuer.id);
  if (facts.registry) span.setAttribute("trustpub.registry", facts.registry);
  if (facts.publishers?.length) {
    span.setAttribute("trustpub.publisher", facts.publishers[0]!);
    span.setAttribute("trustpub.publishers", [...facts.publishers]);
  }
  const repository = facts.identity?.act.repository;
  if (repository) span.setAttribute("trustpub.ci.repository", repository);
}

interface AuditFacts {
  issuer?: TrustedIssuer;
  identity?: Identity;
  claims?: Record<string, unknown>;
  registry?: string;
  publishers?: readonly string[];
}

function baseEvent(
  deps: ExchangeDeps,
  request: ExchangeRequest,
  facts: AuditFacts,
  started: number,
) {
  const act = facts.identity?.act;
  return {
    type: "trustpub.exchange",
    time: new Date(deps.clock.now()).toISOString(),
    endpoint: request.endpoint,
    client: request.client,
    registry: facts.registry,
    publishers: facts.publishers,
    ci: facts.issuer
      ? {
          issuer: facts.issuer.id,
          iss: facts.issuer.url,
          sub: typeof facts.claims?.sub === "string" ? facts.claims.sub : undefined,
          jti: typeof facts.claims?.jti === "string" ? facts.claims.jti.slice(0, 256) : undefined,
          repository: act?.repository,
          workflow: act?.workflow,
          ref: act?.ref,
          sha: act?.sha,
          run_id: act?.run_id,
          run_url: act?.run_url,
        }
      : undefined,
    duration_ms: deps.clock.now() - started,
  } as const;
}

async function runExchange(
  deps: ExchangeDeps,
  request: ExchangeRequest,
  facts: AuditFacts,
): Promise<ExchangeResult> {
  const { config } = deps;
  const verified = await inSpan("verify", () =>
    verifyCiToken(
      request.token,
      deps.directory,
      { clockSkewMs: config.defaults.clock_skew, maxTokenAgeMs: config.defaults.max_token_age },
      deps.clock,
    ),
  );
  const { issuer, claims } = verified;
  facts.issuer = issuer;
  facts.claims = claims;

  const { id: registryId, registry } = registryForAudience(config, claims.aud);
  facts.registry = registryId;
  if (request.registry !== undefined && request.registry !== registryId) {
    throw new TrustpubError("invalid_claims", "the token's audience is not this registry's");
  }
  if (request.targetAudience !== undefined && request.targetAudience !== registry.token_audience) {
    throw new TrustpubError(
      "invalid_target",
      "the requested audience is not the registry this token is for",
    );
  }

  const identity = identify(issuer.provider, claims, issuer.context);
  facts.identity = identity;
  const refusal = issuer.provider.refuse(claims, issuer.context);
  if (refusal !== undefined) throw new TrustpubError("forbidden_event", refusal);

  const grant = await inSpan("policy", async (span) => {
    const candidates = await deps.publishers.candidates(registryId, issuer.id);
    const matched = candidates.filter((p) => publisherMatches(p, claims, identity));
    if (matched.length === 0) {
      throw new TrustpubError(
        "no_matching_publisher",
        "no publisher trusts this identity for this registry",
      );
    }
    facts.publishers = matched.map((p) => p.id);
    span.setAttribute("trustpub.publishers", [...facts.publishers]);
    return grantFor(matched, request);
  });

  await deps.guards?.afterVerify(issuer, grant.publishers);

  const skewSeconds = Math.ceil(config.defaults.clock_skew / 1000);
  const replayId =
    typeof claims.jti === "string" ? claims.jti : `sha256:${await sha256Hex(request.token)}`;
  const key = await jtiKey(config.replay.key_prefix, issuer.url, replayId);
  const claimed = await inSpan("replay_claim", () =>
    deps.replay.claim(key, (replayUntil(claims) + skewSeconds) * 1000),
  );
  if (!claimed) throw new TrustpubError("replayed_token", "token has already been used");

  return inSpan("mint", async () => {
    const ttlSeconds = Math.floor((registry.token_ttl ?? config.defaults.token_ttl) / 1000);
    const subject = identity.subject ?? String(claims.sub ?? "");
    const act = { iss: issuer.url, sub: subject, ...identity.act };
    const scope = grant.scope.join(" ");
    const minted = await mintToken(deps.keys(), config.issuer, nowSeconds(deps.clock), ttlSeconds, {
      sub: `ci:${issuer.id}:${subject}`,
      aud: registry.token_audience,
      client_id: grant.publishers[0]!,
      publishers: grant.publishers,
      scope,
      packages: grant.packages,
      permissions: grant.permissions,
      registry: registryId,
      act,
    });
    return {
      ...minted,
      ttlSeconds,
      registryId,
      registry,
      publishers: grant.publishers,
      packages: grant.packages,
      permissions: grant.permissions,
      scope,
      act,
    };
  });
}

/** The longest `max_token_age` the config accepts: no token is usable past iat plus this. */
const MAX_TOKEN_AGE_CEILING_SECONDS = 24 * 3600;

/**
 * Until when a used `(iss, jti)` must stay recorded: the token's `exp`, but
 * never beyond `iat` plus the largest `max_token_age` a config may set, since
 * the age check refuses the token after that whatever its `exp` (a Kubernetes
 * or Buildkite token can be minted to live for days). The ceiling, not the
 * configured age, so a reload that raises max_token_age cannot reopen a claim.
 */
function replayUntil(claims: Record<string, unknown>): number {
  return Math.min(claims.exp as number, (claims.iat as number) + MAX_TOKEN_AGE_CEILING_SECONDS);
}
