import { sha256Hex } from "../lib/sha256.js";

/**
 * The state trustpub shares across replicas: claimed JTIs, revoked tokens,
 * and later rate-limit counters. Every operation either answers within the
 * store's timeout or throws a TrustpubError("unavailable"): callers never
 * guess, and an exchange whose claim did not answer issues no token.
 */
export interface ReplayStore {
  readonly kind: string;
  /**
   * Atomically records `key` until `expiresAtMs` (epoch ms) unless it exists.
   * True when this call recorded it, false when it was already there.
   */
  claim(key: string, expiresAtMs: number): Promise<boolean>;
  /** True when `key` is recorded and not expired. */
  has(key: string): Promise<boolean>;
  /** Resolves when the store answers; throws otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Key of a CI token's `(iss, jti)` claim: hashed, so its length is fixed whatever the token says. */
export async function jtiKey(prefix: string, iss: string, jti: string): Promise<string> {
  return `${prefix}jti:${await sha256Hex(`${iss}\u0000${jti}`)}`;
}

/** Key of a revoked issued token, by its `jti`. */
export async function revokedKey(prefix: string, jti: string): Promise<string> {
  return `${prefix}revoked:${await sha256Hex(jti)}`;
}
