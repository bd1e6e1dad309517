import { compactVerify, errors, type JWSHeaderParameters } from "jose";
import { TrustpubError } from "../errors.js";
import { decodeBase64Url } from "../lib/base64url.js";
import type { Clock } from "../lib/clock.js";
import { parseJsonStrict } from "../lib/json.js";
import { parsePointer, resolvePointer } from "../lib/pointer.js";
import { strictUtf8 } from "../lib/utf8.js";
import type { IssuerDirectory, TrustedIssuer } from "./directory.js";

/** Longest CI token accepted; real ones are 1-3 KB. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
const MAX_KID_LENGTH = 256;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Header members that would let a token choose its own key or change how it is read (RFC 8725 3.10). */
const KEY_BEARING = ["jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256"] as const;

export interface VerifyPolicy {
  readonly clockSkewMs: number;
  readonly maxTokenAgeMs: number;
}

export interface VerifiedCiToken {
  readonly issuer: TrustedIssuer;
  readonly header: JWSHeaderParameters;
  readonly claims: Record<string, unknown>;
}

/**
 * Verifies a CI token, in this order, each step refusing with its own reason:
 * shape (compact JWS only), header, payload JSON, `iss` against the allowlist
 * (before any network I/O), algorithm pinned per issuer, signature (jose),
 * time claims with the configured skew, then the provider's required claims.
 */
export async function verifyCiToken(
  token: string,
  directory: IssuerDirectory,
  policy: VerifyPolicy,
  clock: Clock,
): Promise<VerifiedCiToken> {
  if (token.length > MAX_TOKEN_LENGTH) throw malformed("token is too long");
  const segments = token.split(".");
  if (segments.length === 5) throw malformed("encrypted tokens (JWE) are not accepted");
  if (!COMPACT_JWS.test(token)) throw malformed("token is not a compact JWS with base64url parts");

  const [encodedHeader, encodedPayload] = segments as [string, string];
  const headerJson = decodeSegment(encodedHeader);
  if (headerJson === undefined) throw malformed("token header is not valid base64url JSON");
  const parsedHeader = parseJsonStrict(headerJson);
  if (!parsedHeader.ok) {
    throw malformed(
      parsedHeader.why === "not JSON"
        ? "token header is not valid base64url JSON"
        : "token header is not valid JSON: duplicate member names",
    );
  }
  if (!isJsonObject(parsedHeader.value)) throw malformed("token header is not a JSON object");
  const header = parsedHeader.value as JWSHeaderParameters;
  checkHeader(header);

  const payloadJson = decodeSegment(encodedPayload);
  if (payloadJson === undefined) throw malformed("token payload is not valid base64url UTF-8");
  const parsed = parseJsonStrict(payloadJson);
  if (!parsed.ok)
    throw malformed(
      `token payload is ${parsed.why === "not JSON" ? "not JSON" : "ambiguous: duplicate member names"}`,
    );
  if (!isJsonObject(parsed.value)) throw malformed("token payload is not a JSON object");
  const claims = parsed.value as Record<string, unknown>;

  if (typeof claims.iss !== "string")
    throw new TrustpubError("missing_claim", "claim iss is missing");
  const issuer = directory.lookup(claims.iss);
  if (!issuer) throw new TrustpubError("untrusted_issuer", "the token's issuer is not trusted");

  const alg = header.alg;
  if (typeof alg !== "string" || !(issuer.config.algorithms as readonly string[]).includes(alg)) {
    throw new TrustpubError(
      "invalid_signature",
      "the token's algorithm is not accepted for its issuer",
    );
  }
  if (
    header.kid !== undefined &&
    (typeof header.kid !== "string" || header.kid.length > MAX_KID_LENGTH)
  ) {
    throw new TrustpubError("invalid_signature", "no issuer key matches the token's kid");
  }

  const key = await issuer.keys.resolve(header);
  try {
    await compactVerify(token, key, { algorithms: [alg] });
  } catch (cause) {
    if (cause instanceof errors.JOSEError) {
      throw new TrustpubError("invalid_signature", "the token's signature does not verify", {
        cause,
      });
    }
    throw cause;
  }

  checkTimes(claims, policy, clock);
  checkLifetime(claims, issuer);
  checkRequired(claims, issuer);
  checkIssuerSegments(claims, issuer);
  return { issuer, header, claims };
}

function checkHeader(header: JWSHeaderParameters): void {
  if (header.crit !== undefined) throw malformed("critical header parameters are not accepted");
  if (header.b64 !== undefined) throw malformed("the b64 header parameter is not accepted");
  if (header.cty !== undefined && String(header.cty).toUpperCase().endsWith("JWT")) {
    throw malformed("nested tokens are not accepted");
  }
  if (header.enc !== undefined) throw malformed("encrypted tokens (JWE) are not accepted");
  for (const member of KEY_BEARING) {
    if (member in header) {
      throw new TrustpubError(
        "invalid_signature",
        `the ${member} header parameter is not accepted; keys come from the issuer only`,
      );
    }
  }
  if (
    typeof header.typ === "string" &&
    header.typ.toLowerCase().replace(/^application\//, "") === "at+jwt"
  ) {
    throw malformed("an access token is not a CI token");
  }
}

/** RFC 7519 4.1.4-4.1.6 with the configured leeway, and a maximum age from `iat`. */
function checkTimes(claims: Record<string, unknown>, policy: VerifyPolicy, clock: Clock): void {
  const now = clock.now() / 1000;
  const skew = policy.clockSkewMs / 1000;
  for (const name of ["exp", "iat"] as const) {
    if (claims[name] === undefined)
      throw new TrustpubError("missing_claim", `claim ${name} is missing`);
  }
  for (const name of ["exp", "iat", "nbf"] as const) {
    const value = claims[name];
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value))) {
      throw new TrustpubError("missing_claim", `claim ${name} has the wrong type`);
    }
  }
  const exp = claims.exp as number;
  const iat = claims.iat as number;
  const nbf = claims.nbf as number | undefined;
  if (exp <= now - skew) throw new TrustpubError("invalid_claims", "the token has expired");
  if (nbf !== undefined && nbf > now + skew)
    throw new TrustpubError("invalid_claims", "the token is not yet valid (nbf)");
  if (iat > now + skew)
    throw new TrustpubError("invalid_claims", "the token was issued in the future (iat)");
  if (now - iat > policy.maxTokenAgeMs / 1000 + skew)
    throw new TrustpubError("invalid_claims", "the token is too old (iat)");
}

/**
 * An issuer's optional `max_lifetime`: refuse tokens minted to live longer
 * (Buildkite `--lifetime`, Kubernetes `expirationSeconds`). Off by default:
 * `max_token_age` already bounds how long after `iat` any token is accepted,
 * whatever its `exp` says.
 */
function checkLifetime(claims: Record<string, unknown>, issuer: TrustedIssuer): void {
  const max = issuer.config.max_lifetime;
  if (!max) return;
  if ((claims.exp as number) - (claims.iat as number) > max / 1000) {
    throw new TrustpubError("invalid_claims", "the token's lifetime (exp - iat) is too long");
  }
}

/**
 * A pattern issuer's segment that the provider binds to a claim must equal
 * it: `https://oidc.circleci.com/org/{org_id}` and the token's own
 * `oidc.circleci.com/org-id` name the same organisation.
 */
function checkIssuerSegments(claims: Record<string, unknown>, issuer: TrustedIssuer): void {
  for (const [name, value] of Object.entries(issuer.context.params)) {
    const binding = issuer.provider.issuerSegments?.[name];
    if (!binding) continue;
    const claimValue = resolvePointer(claims, parsePointer(binding.claim) ?? []);
    const normalize = issuer.provider.shortcuts[binding.shortcut]?.normalize ?? ((s: string) => s);
    if (typeof claimValue !== "string" || normalize(claimValue) !== normalize(value)) {
      throw new TrustpubError(
        "invalid_claims",
        `the token's ${binding.claim.slice(1).replaceAll("~1", "/")} claim does not match its issuer URL`,
      );
    }
  }
}

function checkRequired(claims: Record<string, unknown>, issuer: TrustedIssuer): void {
  if (issuer.config.require_jti) {
    const jti = claims.jti;
    if (jti === undefined) throw new TrustpubError("missing_claim", "claim jti is missing");
    if (typeof jti !== "string" || jti.length === 0 || jti.length > 256) {
      throw new TrustpubError("missing_claim", "claim jti has the wrong type");
    }
  }
  const result = issuer.provider.claims.safeParse(claims);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.map(String);
    const name = path.length > 0 ? path.join(".") : "claims";
    const absent = path.length > 0 && resolvePointer(claims, path) === undefined;
    throw new TrustpubError(
      "missing_claim",
      `claim ${name} ${absent ? "is missing" : "has the wrong type or form"}`,
    );
  }
}

function decodeSegment(segment: string): string | undefined {
  try {
    return strictUtf8.decode(decodeBase64Url(segment));
  } catch {
    return undefined;
  }
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function malformed(description: string, cause?: unknown): TrustpubError {
  return new TrustpubError(
    "malformed_token",
    description,
    cause === undefined ? undefined : { cause },
  );
}
