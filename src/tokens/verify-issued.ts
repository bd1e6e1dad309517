import { base64url, createLocalJWKSet, type JWTPayload, jwtVerify } from "jose";
import { decodeBase64Url } from "../lib/base64url.js";
import { sha256Hex } from "../lib/sha256.js";
import type { SigningKeyRing } from "./keys.js";

/** An issued token's claims, read-only: a remembered one is shared by every request that presents it. */
export interface IssuedToken extends JWTPayload {
  readonly sub: string;
  readonly aud: string;
  readonly jti: string;
  readonly exp: number;
  readonly scope: string;
  readonly packages: readonly string[];
  readonly permissions: readonly string[];
  readonly registry: string;
  readonly act: Readonly<Record<string, string>>;
}

/**
 * How many verified tokens a verifier remembers. Forward auth in front of a
 * mirror sees the same token on every request of a job (an install fetches
 * hundreds of packages with one token); a few thousand covers the jobs alive
 * within one token lifetime. Oldest first out.
 */
export const VERIFIED_CACHE_SIZE = 4096;

/**
 * Longer tokens are verified every time, never remembered, so the memory
 * stays under about 60 MB however large the scopes publishers are given
 * (an issued token is about 1.6 KB for a few packages).
 */
export const REMEMBERED_MAX_LENGTH = 8 * 1024;

interface Verified {
  /** SHA-256 of the signature text that verified (with the content as key, the token text would be a credential). */
  readonly signature: string;
  readonly payload: IssuedToken;
  /** The seconds (epoch, floored as jose does) during which the time claims hold. */
  readonly fromSeconds: number;
  readonly untilSeconds: number;
}

export interface IssuedTokenVerifier {
  (token: string): Promise<IssuedToken | undefined>;
  /** How many tokens it remembers now (tests, diagnostics). */
  remembered(): number;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The signed content (header and payload) and the signature of a token whose
 * signature is in the one spelling trustpub writes: unpadded base64url, its
 * last character carrying no stray bits. jose on Node 20 decodes with `atob`,
 * which also takes padding, whitespace and other spellings of the same bytes;
 * none of those is a token trustpub issued, so they are refused before any
 * work. The signed content needs no such check: the signature covers its
 * exact text, so no other spelling of it can verify.
 */
function canonicalParts(token: string): { content: string; signature: string } | undefined {
  const dot = token.lastIndexOf(".");
  if (dot === -1) return undefined;
  const signature = token.slice(dot + 1);
  if (!BASE64URL.test(signature)) return undefined;
  try {
    if (base64url.encode(decodeBase64Url(signature)) !== signature) return undefined;
  } catch {
    return undefined;
  }
  return { content: token.slice(0, dot), signature };
}

/**
 * Verifies a token trustpub issued: its own keys (current, next, retired),
 * its own issuer, `typ: at+jwt`. Returns undefined for anything else, so
 * callers can answer `{"active": false}` without telling why.
 *
 * A token that verified is remembered, so presenting the same text again
 * skips only the signature check, whose answer for those bytes cannot change
 * while this verifier's keys do not (a reload that changes the keys builds a
 * new verifier, with an empty memory). The time claims are checked again on
 * every use, with jose's rule and leeway, and the denylist is not cached here
 * at all (activeIssuedToken asks the store each time). Only successes are
 * remembered, one entry per signed content (header and payload): another
 * valid signature of the same content (ECDSA's `(r, n - s)`) takes its place
 * instead of adding one, so filling the memory takes that many distinct
 * tokens trustpub issued. Entries hold the signed content and a digest of
 * the signature, never the token text: a heap dump holds no usable
 * credential.
 */
export function issuedTokenVerifier(
  keys: SigningKeyRing,
  issuer: string,
  clockSkewSeconds: number,
  now: () => number,
): IssuedTokenVerifier {
  const select = createLocalJWKSet(keys.publicJwks());
  const algorithms = [...new Set(keys.keys.map((k) => k.alg))];
  const verified = new Map<string, Verified>();

  const remember = (content: string, signature: string, payload: IssuedToken) => {
    verified.delete(content);
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
    verified.set(content, {
      signature,
      payload: deepFreeze(payload),
      // jose: exp must be > now - leeway, nbf must be <= now + leeway.
      fromSeconds: typeof payload.nbf === "number" ? payload.nbf - clockSkewSeconds : -Infinity,
      untilSeconds: payload.exp + clockSkewSeconds,
    });
  };

  const verify = async (token: string): Promise<IssuedToken | undefined> => {
    if (token.length > 16 * 1024) return undefined;
    const parts = canonicalParts(token);
    if (parts === undefined) return undefined;
    const { content } = parts;
    // A token too long to be remembered is neither looked up nor digested.
    const signature =
      token.length <= REMEMBERED_MAX_LENGTH ? await sha256Hex(parts.signature) : undefined;
    const known = signature === undefined ? undefined : verified.get(content);
    if (known !== undefined && known.signature === signature) {
      const nowSeconds = Math.floor(now() / 1000);
      if (nowSeconds >= known.fromSeconds && nowSeconds < known.untilSeconds) return known.payload;
      verified.delete(content);
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
      if (signature !== undefined) remember(content, signature, payload as IssuedToken);
      return payload as IssuedToken;
    } catch {
      return undefined;
    }
  };
  return Object.assign(verify, { remembered: () => verified.size });
}

/** A remembered payload is shared by every request that presents its token: nobody may change it. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}
