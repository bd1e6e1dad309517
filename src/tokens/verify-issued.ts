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
 * Verifies a token trustpub issued: its own keys (current, next, retired),
 * its own issuer, `typ: at+jwt`. Returns undefined for anything else, so
 * callers can answer `{"active": false}` without telling why.
 */
export function issuedTokenVerifier(
  keys: SigningKeyRing,
  issuer: string,
  clockSkewSeconds: number,
  now: () => number,
) {
  const select = createLocalJWKSet(keys.publicJwks());
  const algorithms = [...new Set(keys.keys.map((k) => k.alg))];
  return async (token: string): Promise<IssuedToken | undefined> => {
    if (token.length > 16 * 1024) return undefined;
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
      return payload as IssuedToken;
    } catch {
      return undefined;
    }
  };
}
