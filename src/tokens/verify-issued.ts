import { createLocalJWKSet, type JWTPayload, jwtVerify } from "jose";
import type { SigningKeyRing } from "./keys.js";

export interface IssuedToken extends JWTPayload {
  sub: string;
  aud: string;
  jti: string;
  exp: number;
  scope: string;
  packages: string[];
  permissions: string[];
  registry: string;
  act: Record<string, string>;
}

/**
 * How many verified tokens a verifier remembers. Forward auth in front of a
 * mirror sees the same token on every request of a job (an install fetches
 * hundreds of packages with one token); a few thousand covers the jobs alive
 * within one token lifetime. Oldest first out; a few MB at most.
 */
export const VERIFIED_CACHE_SIZE = 4096;

interface Verified {
  readonly payload: IssuedToken;
  /** The seconds (epoch, floored as jose does) during which the time claims hold. */
  readonly fromSeconds: number;
  readonly untilSeconds: number;
}

/**
 * Verifies a token trustpub issued: its own keys (current, next, retired),
 * its own issuer, `typ: at+jwt`. Returns undefined for anything else, so
 * callers can answer `{"active": false}` without telling why.
 *
 * A token that verified is remembered by its exact text, so presenting the
 * same bytes again skips only the signature check, whose answer for those
 * bytes cannot change while this verifier's keys do not (a reload that
 * changes the keys builds a new verifier, with an empty memory). The time
 * claims are checked again on every use, with jose's rule and leeway, and
 * the denylist is not cached here at all (activeIssuedToken asks the store
 * each time). Only successes are remembered, so a flood of bad tokens cannot
 * fill the memory with anything.
 */
export function issuedTokenVerifier(
  keys: SigningKeyRing,
  issuer: string,
  clockSkewSeconds: number,
  now: () => number,
) {
  const select = createLocalJWKSet(keys.publicJwks());
  const algorithms = [...new Set(keys.keys.map((k) => k.alg))];
  const verified = new Map<string, Verified>();

  const remember = (token: string, payload: IssuedToken) => {
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
    verified.set(token, {
      payload: deepFreeze(payload),
      // jose: exp must be > now - leeway, nbf must be <= now + leeway.
      fromSeconds: typeof payload.nbf === "number" ? payload.nbf - clockSkewSeconds : -Infinity,
      untilSeconds: payload.exp + clockSkewSeconds,
    });
  };

  return async (token: string): Promise<IssuedToken | undefined> => {
    if (token.length > 16 * 1024) return undefined;
    const known = verified.get(token);
    if (known !== undefined) {
      const nowSeconds = Math.floor(now() / 1000);
      if (nowSeconds >= known.fromSeconds && nowSeconds < known.untilSeconds) return known.payload;
      verified.delete(token);
    }
    try {
      const { payload } = await jwtVerify(token, select, {
        issuer,
        algorithms,
        typ: "at+jwt",
        clockTolerance: clockSkewSeconds,
        currentDate: new Date(now()),
        requiredClaims: ["sub", "aud", "jti", "exp", "iat"],
      });
      if (typeof payload.aud !== "string" || typeof payload.scope !== "string") return undefined;
      remember(token, payload as IssuedToken);
      return payload as IssuedToken;
    } catch {
      return undefined;
    }
  };
}

/** A remembered payload is shared by every request that presents its token: nobody may change it. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}
