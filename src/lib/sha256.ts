/** A synchronous SHA-256 to lower-case hex, where the runtime has one (node:crypto). */
export type SyncSha256 = (text: string) => string;

let synchronous: SyncSha256 | undefined;

/**
 * Called once by a runtime's entry with its native hash. WebCrypto's
 * `digest` is asynchronous: on Node every call is a thread-pool job and a
 * promise, which cost more than the hash itself on the exchange's hot path
 * (two digests an exchange, one per authz check). Both give the same hex.
 */
export function installSha256(hash: SyncSha256 | undefined): void {
  synchronous = hash;
}

/** SHA-256 of the UTF-8 text, as 64 lower-case hex digits. */
export async function sha256Hex(text: string): Promise<string> {
  if (synchronous) return synchronous(text);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
