import { base64url, type JWK } from "jose";

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;
const MAX_KEYS = 100;
const MIN_RSA_BITS = 2048;

/**
 * The verification keys of a JWKS document that trustpub will use: RSA of at
 * least 2048 bits, EC and OKP; `use` absent or `sig`; private members dropped
 * (a public JWKS should have none; a symmetric `oct` key never verifies a CI
 * token). Returns undefined when the document is not a JWKS at all.
 */
export function usableKeys(document: unknown): JWK[] | undefined {
  if (document === null || typeof document !== "object") return undefined;
  const keys = (document as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) return undefined;
  const out: JWK[] = [];
  for (const candidate of keys.slice(0, MAX_KEYS)) {
    if (candidate === null || typeof candidate !== "object") continue;
    const key = candidate as JWK;
    if (key.use !== undefined && key.use !== "sig") continue;
    if (key.kty === "RSA") {
      if (typeof key.n !== "string" || typeof key.e !== "string" || rsaBits(key.n) < MIN_RSA_BITS)
        continue;
    } else if (key.kty !== "EC" && key.kty !== "OKP") {
      continue;
    }
    const copy: Record<string, unknown> = { ...key };
    for (const member of PRIVATE_MEMBERS) delete copy[member];
    out.push(copy as JWK);
  }
  return out;
}

function rsaBits(n: string): number {
  try {
    const bytes = base64url.decode(n);
    let start = 0;
    while (start < bytes.length && bytes[start] === 0) start++;
    return (bytes.length - start) * 8;
  } catch {
    return 0;
  }
}
