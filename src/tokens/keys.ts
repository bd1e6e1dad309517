import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { z } from "zod";

export const KEY_STATUSES = ["current", "next", "retired"] as const;
export type KeyStatus = (typeof KEY_STATUSES)[number];
export type SigningAlg = "ES256" | "EdDSA" | "RS256";

export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly status: KeyStatus;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

/** The private JWKS of trustpub's own keys: exactly one current key signs; all are published. */
export interface SigningKeyRing {
  readonly current: SigningKey;
  readonly keys: readonly SigningKey[];
  /** True when the key was generated at start and dies with the process. */
  readonly ephemeral: boolean;
  publicJwks(): { keys: JWK[] };
}

const PRIVATE_MEMBERS = new Set(["d", "p", "q", "dp", "dq", "qi", "oth", "k"]);

const privateJwkSchema = z.looseObject({
  kty: z.enum(["EC", "OKP", "RSA"]),
  kid: z.string().min(1).max(128),
  alg: z.enum(["ES256", "EdDSA", "RS256"]),
  status: z.enum(KEY_STATUSES),
  d: z.string().min(1, "private key member d is required"),
});

export const privateJwksSchema = z
  .strictObject({ keys: z.array(privateJwkSchema).min(1) })
  .superRefine((jwks, ctx) => {
    const current = jwks.keys.filter((k) => k.status === "current").length;
    if (current !== 1)
      ctx.addIssue({
        code: "custom",
        path: ["keys"],
        message: `exactly one key must have status "current" (found ${current})`,
      });
    const kids = new Set<string>();
    jwks.keys.forEach((k, i) => {
      if (kids.has(k.kid))
        ctx.addIssue({ code: "custom", path: ["keys", i, "kid"], message: "duplicate kid" });
      kids.add(k.kid);
    });
  });

export function publicPart(jwk: Record<string, unknown>): JWK {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(jwk))
    if (!PRIVATE_MEMBERS.has(k) && k !== "status") out[k] = v;
  return { ...out, use: "sig" } as JWK;
}

/** Imports a private JWKS already checked with `privateJwksSchema`. */
export async function loadSigningKeys(
  document: z.output<typeof privateJwksSchema>,
): Promise<SigningKeyRing> {
  const keys: SigningKey[] = [];
  for (const jwk of document.keys) {
    const privateKey = (await importJWK(jwk as JWK, jwk.alg, { extractable: false })) as CryptoKey;
    keys.push(
      Object.freeze({
        kid: jwk.kid,
        alg: jwk.alg,
        status: jwk.status,
        privateKey,
        publicJwk: publicPart(jwk),
      }),
    );
  }
  return ring(keys, false);
}

/** A fresh private JWK with `kid` (its RFC 7638 thumbprint), `alg` and `status`. */
export async function generatePrivateJwk(
  alg: SigningAlg,
  status: KeyStatus = "current",
): Promise<JWK & { status: KeyStatus }> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === "RS256" ? { modulusLength: 3072 } : {}),
  });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg, use: "sig", status };
}

/** A key generated at start: issued tokens die with the process. */
export async function ephemeralKeyRing(alg: SigningAlg): Promise<SigningKeyRing> {
  const jwk = await generatePrivateJwk(alg);
  const loaded = await loadSigningKeys(privateJwksSchema.parse({ keys: [jwk] }));
  return ring([...loaded.keys], true);
}

function ring(keys: SigningKey[], ephemeral: boolean): SigningKeyRing {
  const current = keys.find((k) => k.status === "current");
  if (!current) throw new Error('no signing key has status "current"');
  const published = { keys: keys.map((k) => k.publicJwk) };
  return Object.freeze({
    current,
    keys: Object.freeze(keys),
    ephemeral,
    publicJwks: () => structuredClone(published),
  });
}
