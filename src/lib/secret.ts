/**
 * Compares a presented secret with the configured ones without leaking, by
 * timing, how much of it matched: both sides are hashed first, so the
 * comparison always runs over 32 bytes whatever was sent, and every
 * configured secret is compared.
 */
export async function matchesAnySecret(
  presented: string,
  secrets: readonly string[],
): Promise<boolean> {
  const digest = await sha256(presented);
  let found = false;
  for (const secret of secrets) {
    if (equalBytes(digest, await sha256(secret))) found = true;
  }
  return found;
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ (b[i] ?? 0);
  return diff === 0;
}
