import { CompactSign, createLocalJWKSet, jwtVerify } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { memoryReplayStore } from "../../src/replay/memory.js";
import { ephemeralKeyRing, type SigningKeyRing } from "../../src/tokens/keys.js";
import { type IssuedClaims, mintToken } from "../../src/tokens/mint.js";
import { activeIssuedToken, revokeIssuedToken } from "../../src/tokens/revocation.js";
import {
  type IssuedToken,
  issuedTokenVerifier,
  REMEMBERED_MAX_LENGTH,
  VERIFIED_CACHE_SIZE,
} from "../../src/tokens/verify-issued.js";

/**
 * The verifier remembers tokens that verified, by their exact text. What it
 * may skip on a second presentation is only the signature check; everything
 * that can change with time or state must be decided again every time.
 */
const ISSUER = "https://sts.test.example";
const SKEW = 30;
const T0 = 1_800_000_000;

const claims: IssuedClaims = {
  sub: "ci:github:repo:acme/demo:environment:release",
  aud: "https://registry.test",
  client_id: "acme-demo-release",
  publishers: ["acme-demo-release"],
  scope: "publish:@acme/demo",
  packages: ["@acme/demo"],
  permissions: ["publish"],
  registry: "npm",
  act: { iss: "https://ci.test", sub: "repo:acme/demo", repository: "acme/demo" },
};

let ring: SigningKeyRing;
let otherRing: SigningKeyRing;

beforeAll(async () => {
  [ring, otherRing] = await Promise.all([ephemeralKeyRing("ES256"), ephemeralKeyRing("ES256")]);
});

/** A verifier on `ring` whose clock reads `at()` seconds. */
function verifierAt(at: () => number, keys = ring) {
  return issuedTokenVerifier(keys, ISSUER, SKEW, () => at() * 1000);
}

const mint = (iat = T0, ttl = 900) =>
  mintToken(ring, ISSUER, iat, ttl, claims).then((m) => m.token);

describe("issued token verifier memory", () => {
  it("answers a second presentation of the same token from memory, with the same frozen payload", async () => {
    const verify = verifierAt(() => T0 + 1);
    const token = await mint();
    const first = await verify(token);
    const second = await verify(token);
    expect(first?.jti).toBeTypeOf("string");
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first?.packages)).toBe(true);
    expect(Object.isFrozen(first?.act)).toBe(true);
    expect(() => {
      (first as unknown as { packages: string[] }).packages.push("@evil/pkg");
    }).toThrow(TypeError);
  });

  it("decides exp and nbf again on every use, exactly where a fresh verification would", async () => {
    const token = await mint(T0, 900);
    const withNbf = await new CompactSign(
      new TextEncoder().encode(
        JSON.stringify({
          iss: ISSUER,
          ...claims,
          jti: "nbf-token",
          iat: T0,
          nbf: T0 + 100,
          exp: T0 + 900,
        }),
      ),
    )
      .setProtectedHeader({ alg: "ES256", kid: ring.current.kid, typ: "at+jwt" })
      .sign(ring.current.privateKey);
    // Each second around nbf - leeway and exp + leeway is decided by a verifier
    // that remembered both tokens inside their windows, and by a fresh one.
    const nbfEdge = T0 + 100 - SKEW;
    const expEdge = T0 + 900 + SKEW;
    const edges = [nbfEdge - 1, nbfEdge, nbfEdge + 1, expEdge - 1, expEdge, expEdge + 1];
    const decisions: [number, boolean, boolean][] = [];
    for (const at of edges) {
      let now = T0 + 200;
      const remembering = verifierAt(() => now);
      const remembered = new Map([
        [token, await remembering(token)],
        [withNbf, await remembering(withNbf)],
      ]);
      expect(remembering.remembered()).toBe(2);
      now = at;
      const fresh = verifierAt(() => at);
      for (const t of [token, withNbf]) {
        const answer = await remembering(t);
        const valid = (await fresh(t)) !== undefined;
        // Where the token is valid, the answer comes from memory (the same object), not a second verification.
        expect([at, answer]).toEqual([at, valid ? remembered.get(t) : undefined]);
        if (valid) expect(answer).toBe(remembered.get(t));
        decisions.push([at, t === withNbf, answer !== undefined]);
      }
    }
    // The edges are where jose says they are: valid from nbf - leeway, expired from exp + leeway.
    expect(decisions.filter(([, nbf]) => nbf).map(([at, , ok]) => [at, ok])).toEqual([
      [nbfEdge - 1, false],
      [nbfEdge, true],
      [nbfEdge + 1, true],
      [expEdge - 1, true],
      [expEdge, false],
      [expEdge + 1, false],
    ]);
  });

  it("refuses other spellings of an issued token, which jose alone would accept", async () => {
    const verify = verifierAt(() => T0 + 1);
    const token = await mint();
    const [h, p, s] = token.split(".") as [string, string, string];
    // ES256: 64 bytes, 86 characters; the last one carries 2 bits and 4 unused ones.
    const last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const index = last.indexOf(s.at(-1)!);
    const strayBits = `${s.slice(0, -1)}${last[index ^ 1]}`;
    const spellings = [
      `${h}.${p}.${s}==`,
      `${h}.${p}.${s.slice(0, 40)} ${s.slice(40)}`,
      `${h}.${p}.${strayBits}`,
    ];
    for (const spelling of spellings) {
      await expect(
        jwtVerify(spelling, createLocalJWKSet(ring.publicJwks()), { issuer: ISSUER }),
      ).resolves.toBeTruthy();
      expect(await verify(spelling)).toBeUndefined();
    }
    expect(verify.remembered()).toBe(0);
    expect(await verify(token)).toBeDefined();
  });

  it("keeps one entry per signed content: ECDSA's other valid signature (r, n - s) replaces it", async () => {
    const verify = verifierAt(() => T0 + 1);
    const token = await mint();
    const [h, p, s] = token.split(".") as [string, string, string];
    const bytes = Buffer.from(s, "base64url");
    const order = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const sValue = BigInt(`0x${bytes.subarray(32).toString("hex")}`);
    const other = Buffer.concat([
      bytes.subarray(0, 32),
      Buffer.from((order - sValue).toString(16).padStart(64, "0"), "hex"),
    ]).toString("base64url");
    const twin = `${h}.${p}.${other}`;
    const first = await verify(token);
    const second = await verify(twin);
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(verify.remembered()).toBe(1);
    // The twin is the one remembered now; the original is verified again, still one entry.
    expect(await verify(twin)).toBe(second);
    expect(await verify(token)).not.toBe(first);
    expect(verify.remembered()).toBe(1);
  });

  it("does not answer a different text from memory: a changed signature or payload is verified and refused", async () => {
    const verify = verifierAt(() => T0 + 1);
    const token = await mint();
    expect(await verify(token)).toBeDefined();
    const [h, p, s] = token.split(".") as [string, string, string];
    const flipped = `${s.slice(0, -2)}${s.at(-2) === "A" ? "B" : "A"}${s.at(-1)}`;
    expect(await verify(`${h}.${p}.${flipped}`)).toBeUndefined();
    const otherPayload = (await mint(T0 + 1)).split(".")[1]!;
    expect(await verify(`${h}.${otherPayload}.${s}`)).toBeUndefined();
  });

  it("starts empty for other keys: a verifier on a ring without the signing key refuses a token another one remembers", async () => {
    const token = await mint();
    expect(await verifierAt(() => T0 + 1)(token)).toBeDefined();
    expect(await verifierAt(() => T0 + 1, otherRing)(token)).toBeUndefined();
  });

  it("never remembers a refusal", async () => {
    let now = T0 + 2000; // past exp: refused
    const verify = verifierAt(() => now);
    const token = await mint(T0, 900);
    expect(await verify(token)).toBeUndefined();
    now = T0 + 1; // the same text, now inside its window, verifies
    expect(await verify(token)).toBeDefined();
  });

  it("holds at most VERIFIED_CACHE_SIZE tokens, forgetting the oldest first", async () => {
    const verify = verifierAt(() => T0 + 1);
    const tokens = await Promise.all(
      Array.from({ length: VERIFIED_CACHE_SIZE + 1 }, (_, i) => mint(T0 + (i % 60))),
    );
    const payloads: (IssuedToken | undefined)[] = [];
    for (const token of tokens) payloads.push(await verify(token));
    expect(verify.remembered()).toBe(VERIFIED_CACHE_SIZE);
    // Only the oldest was pushed out: the second and the newest are still remembered.
    expect(await verify(tokens[1]!)).toBe(payloads[1]);
    expect(await verify(tokens.at(-1)!)).toBe(payloads.at(-1));
    const again = await verify(tokens[0]!);
    expect(again).toBeDefined();
    expect(again).not.toBe(payloads[0]);
  });

  it("verifies a token longer than REMEMBERED_MAX_LENGTH every time, without remembering it", async () => {
    const verify = verifierAt(() => T0 + 1);
    const packages = Array.from({ length: 400 }, (_, i) => `@acme/package-number-${i}`);
    const long = (await mintToken(ring, ISSUER, T0, 900, { ...claims, packages })).token;
    expect(long.length).toBeGreaterThan(REMEMBERED_MAX_LENGTH);
    const first = await verify(long);
    expect(first?.packages).toHaveLength(400);
    expect(await verify(long)).not.toBe(first);
    expect(verify.remembered()).toBe(0);
  });

  it("leaves revocation to the store on every use: a remembered token that is revoked is no longer active", async () => {
    const replay = memoryReplayStore({ now: () => (T0 + 1) * 1000 });
    const deps = { verify: verifierAt(() => T0 + 1), replay, keyPrefix: "trustpub:" };
    const token = await mint();
    const issued = await activeIssuedToken(deps, token);
    expect(issued).toBeDefined();
    expect(await activeIssuedToken(deps, token)).toBe(issued);
    expect(await revokeIssuedToken(replay, "trustpub:", issued!, SKEW * 1000)).toBe(true);
    expect(await activeIssuedToken(deps, token)).toBeUndefined();
  });
});
