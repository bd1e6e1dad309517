import { base64url, CompactSign } from "jose";
import type { SigningKeyRing } from "./keys.js";

/** The claims of an issued token besides iss/iat/exp/jti (SPEC section 6). */
export interface IssuedClaims {
  readonly sub: string;
  readonly aud: string;
  readonly client_id: string;
  readonly publishers: readonly string[];
  readonly scope: string;
  readonly packages: readonly string[];
  readonly permissions: readonly string[];
  readonly registry: string;
  readonly act: Readonly<Record<string, string>>;
}

export interface MintedToken {
  readonly token: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
}

/** Random bytes drawn in one call and handed out 16 at a time: one getRandomValues per 256 tokens. */
const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let offset = 0;

/** 128 random bits, base64url. Each draw is used once, never handed out twice. */
export function randomJti(): string {
  if (offset + 16 > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + 16);
  offset += 16;
  return base64url.encode(bytes);
}

/**
 * Signs an RFC 9068 access token (`typ: at+jwt`) with the current key. Its
 * `typ`, `iss` and `aud` all differ from any CI token's, so neither can be
 * accepted in place of the other.
 */
export async function mintToken(
  keys: SigningKeyRing,
  issuer: string,
  nowSeconds: number,
  ttlSeconds: number,
  claims: IssuedClaims,
): Promise<MintedToken> {
  const jti = randomJti();
  const exp = nowSeconds + ttlSeconds;
  const key = keys.current;
  // The claims are built here and signed with jose's JWS primitive: SignJWT
  // would copy and re-check claims whose types this module already fixes.
  const payload = utf8.encode(
    JSON.stringify({ iss: issuer, ...claims, jti, iat: nowSeconds, exp }),
  );
  const token = await new CompactSign(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "at+jwt" })
    .sign(key.privateKey);
  return { token, jti, iat: nowSeconds, exp };
}

const utf8 = new TextEncoder();
