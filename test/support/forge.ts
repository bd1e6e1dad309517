import { execFile } from "node:child_process";
import type { JsonWebKey as NodeJwk } from "node:crypto";
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  KeyObject,
  sign as nodeSign,
  randomBytes,
  randomUUID,
  X509Certificate,
} from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CompactSign, exportJWK, generateKeyPair, type JWK } from "jose";

/** A JSON object, or raw text/bytes used verbatim (duplicate keys, nested JWT for cty, garbage). */
export type Part = Record<string, unknown> | string | Uint8Array;

export interface AttackerKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export const b64url = (bytes: Uint8Array | string): string =>
  Buffer.from(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes).toString("base64url");

function encodePart(part: Part): string {
  if (part instanceof Uint8Array || typeof part === "string") return b64url(part);
  return b64url(JSON.stringify(part));
}

function signingInput(header: Part, payload: Part): string {
  return `${encodePart(header)}.${encodePart(payload)}`;
}

/** header.payload.signature with no real signature (alg none/None/nOnE, crit, b64:false, jku, ...). */
export function unsigned(header: Part, payload: Part, signature: string | Uint8Array = ""): string {
  const sig = typeof signature === "string" ? signature : b64url(signature);
  return `${signingInput(header, payload)}.${sig}`;
}

/** HMAC-SHA256 over header.payload with the given secret (alg confusion with public key bytes). */
export function hs256WithSecret(header: Part, payload: Part, secret: Uint8Array): string {
  const input = signingInput(header, payload);
  const sig = createHmac("sha256", secret).update(input).digest();
  return `${input}.${b64url(sig)}`;
}

/** The byte forms of an RSA public key an HS256-confused verifier might use as a secret. */
export function publicKeyForms(publicJwk: JWK): {
  pem: Uint8Array;
  der: Uint8Array;
  n: Uint8Array;
} {
  const key = createPublicKey({
    key: publicJwk as NodeJwk,
    format: "jwk",
  });
  const pem = key.export({ type: "spki", format: "pem" }) as string;
  const der = key.export({ type: "spki", format: "der" });
  if (!publicJwk.n) throw new Error("publicKeyForms: not an RSA JWK (no n)");
  return {
    pem: new Uint8Array(Buffer.from(pem, "utf8")),
    der: new Uint8Array(der),
    n: new Uint8Array(Buffer.from(publicJwk.n, "base64url")),
  };
}

/** A fresh RS256 key pair for the attacker (extractable, public JWK carries a kid). */
export async function attackerKey(): Promise<AttackerKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, publicJwk: { ...jwk, kid: `attacker-${randomUUID()}`, alg: "RS256" } };
}

/** RS256 signed by the attacker, whose public key rides along in the `jwk` header. */
export async function withEmbeddedJwk(
  payload: Record<string, unknown>,
  attacker?: AttackerKey,
  header: Record<string, unknown> = {},
): Promise<string> {
  const key = attacker ?? (await attackerKey());
  const { kid, ...jwk } = key.publicJwk;
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid, jwk, ...header })
    .sign(key.privateKey);
}

export interface SelfSignedCert {
  certPem: string;
  /** Standard base64 DER, as it goes in an x5c array. */
  derBase64: string;
  privateKey: KeyObject;
}

let certPromise: Promise<SelfSignedCert> | undefined;

/** A real self-signed certificate (openssl req -x509), generated once per process. */
export function selfSignedCert(): Promise<SelfSignedCert> {
  certPromise ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "trustpub-x5c-"));
    try {
      const keyPath = join(dir, "key.pem");
      const certPath = join(dir, "cert.pem");
      await promisify(execFile)("openssl", [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=attacker",
        "-days",
        "1",
        "-keyout",
        keyPath,
        "-out",
        certPath,
      ]);
      const certPem = await readFile(certPath, "utf8");
      const privateKey = createPrivateKey(await readFile(keyPath, "utf8"));
      return {
        certPem,
        derBase64: new X509Certificate(certPem).raw.toString("base64"),
        privateKey,
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return certPromise;
}

/** RS256 signed by a self-signed certificate's key, with that certificate in the `x5c` header. */
export async function x5cSelfSigned(
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const cert = await selfSignedCert();
  const input = signingInput(
    { alg: "RS256", typ: "JWT", x5c: [cert.derBase64], ...header },
    payload,
  );
  return `${input}.${b64url(nodeSign("sha256", Buffer.from(input), cert.privateKey))}`;
}

function derInteger(raw: Uint8Array): Buffer {
  let i = 0;
  while (i < raw.length - 1 && raw[i] === 0) i++;
  let body = Buffer.from(raw.subarray(i));
  if ((body[0] ?? 0) & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return Buffer.concat([Buffer.from([0x02, body.length]), body]);
}

/** Converts a raw r||s ECDSA signature to ASN.1 DER (SEQUENCE of two INTEGERs). */
export function rawEcdsaToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  const seq = Buffer.concat([derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half))]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30, seq.length]), seq]));
}

/**
 * ES256 tokens with a broken signature: "zero" r=s=0 (64 zero bytes), "der" the real signature
 * DER-encoded instead of raw r||s, "truncated" the first 32 bytes (r only) of the real signature.
 */
export function es256Malformed(
  header: Part,
  payload: Part,
  kind: "zero" | "der" | "truncated",
  key: CryptoKey | KeyObject,
): string {
  const input = signingInput(header, payload);
  if (kind === "zero") return `${input}.${b64url(new Uint8Array(64))}`;
  const keyObject = key instanceof KeyObject ? key : KeyObject.from(key);
  const raw = nodeSign("sha256", Buffer.from(input), { key: keyObject, dsaEncoding: "ieee-p1363" });
  const sig = kind === "der" ? rawEcdsaToDer(raw) : raw.subarray(0, 32);
  return `${input}.${b64url(sig)}`;
}

/** A five-part compact string shaped like a JWE (RSA-OAEP-256 / A256GCM) with random parts. */
export function jweLike(header: Record<string, unknown> = {}): string {
  return [
    encodePart({ alg: "RSA-OAEP-256", enc: "A256GCM", typ: "JWT", ...header }),
    b64url(randomBytes(256)),
    b64url(randomBytes(12)),
    b64url(randomBytes(180)),
    b64url(randomBytes(16)),
  ].join(".");
}

/** The flattened JSON serialization of a compact JWS, as a string. */
export function jsonSerialization(token: string): string {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error("jsonSerialization: expected a three-part compact JWS");
  const [protectedHeader, payload, signature] = parts;
  return JSON.stringify({ protected: protectedHeader, payload, signature });
}

/**
 * The same payload bytes under a new header and a new signature: the original header's members in
 * reverse order with kid set (plus "x": 1 when reordering alone would not change the header).
 */
export async function reencode(token: string, key: CryptoKey, kid?: string): Promise<string> {
  const [headerPart, payloadPart] = token.split(".");
  if (headerPart === undefined || payloadPart === undefined) {
    throw new Error("reencode: not a compact JWS");
  }
  const original = JSON.parse(Buffer.from(headerPart, "base64url").toString("utf8")) as Record<
    string,
    unknown
  >;
  const merged: Record<string, unknown> = { ...original, ...(kid === undefined ? {} : { kid }) };
  let header: Record<string, unknown> = Object.fromEntries(Object.entries(merged).reverse());
  if (b64url(JSON.stringify(header)) === headerPart) header = { ...header, x: 1 };
  const signed = await new CompactSign(Buffer.from(payloadPart, "base64url"))
    .setProtectedHeader(header as { alg: string })
    .sign(key);
  if (signed.split(".")[1] !== payloadPart) {
    throw new Error("reencode: the payload segment was not canonical base64url");
  }
  return signed;
}

export interface WeakRsa {
  kid: string;
  privateKey: KeyObject;
  publicJwk: JWK;
  jwks: { keys: JWK[] };
  /** RS256 via node:crypto (jose refuses keys under 2048 bits). */
  sign(payload: Part, header?: Record<string, unknown>): string;
}

/** A JWKS holding a 1024-bit RSA public key, plus the means to sign with it. */
export function weakRsaJwks(): WeakRsa {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const kid = `weak-${randomUUID()}`;
  const publicJwk: JWK = {
    ...(publicKey.export({ format: "jwk" }) as JWK),
    kid,
    alg: "RS256",
    use: "sig",
  };
  return {
    kid,
    privateKey,
    publicJwk,
    jwks: { keys: [publicJwk] },
    sign(payload, header = {}) {
      const input = signingInput({ alg: "RS256", typ: "JWT", kid, ...header }, payload);
      return `${input}.${b64url(nodeSign("sha256", Buffer.from(input), privateKey))}`;
    },
  };
}
