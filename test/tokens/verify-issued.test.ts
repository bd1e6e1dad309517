import { CompactSign } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { memoryReplayStore } from "../../src/replay/memory.js";
import { ephemeralKeyRing, type SigningKeyRing } from "../../src/tokens/keys.js";
import { type IssuedClaims, mintToken } from "../../src/tokens/mint.js";
import { activeIssuedToken, revokeIssuedToken } from "../../src/tokens/revocation.js";
import {
  type IssuedToken,
  issuedTokenVerifier,
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
      (first as { packages: string[] }).packages.push("@evil/pkg");
    }).toThrow(TypeError);
  });

  it("decides exp and nbf again on every use, exactly where a fresh verification would", async () => {
    let now = T0;
    const remembering = verifierAt(() => now);
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
    now = T0 + 100; // inside both tokens' windows: remembered now
    expect(await remembering(token)).toBeDefined();
    expect(await remembering(withNbf)).toBeDefined();

    const edges = [T0 + 69, T0 + 70, T0 + 899, T0 + 900 + SKEW - 1, T0 + 900 + SKEW, T0 + 5000];
    for (const at of edges) {
      now = at;
      const fresh = verifierAt(() => at);
      for (const t of [token, withNbf]) {
        // Once past exp the memory forgets the token, so later edges verify afresh too.
        expect([at, (await remembering(t)) !== undefined]).toEqual([
          at,
          (await fresh(t)) !== undefined,
        ]);
      }
    }
    now = T0 + 900 + SKEW;
    expect(await remembering(token)).toBeUndefined();
    now = T0 + 70 - SKEW - 1; // before nbf minus the leeway
    expect(await verifierAt(() => now)(withNbf)).toBeUndefined();
    expect(await remembering(withNbf)).toBeUndefined();
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
    // The newest is still remembered; the first was pushed out, so it verifies into a new object.
    expect(await verify(tokens.at(-1)!)).toBe(payloads.at(-1));
    const again = await verify(tokens[0]!);
    expect(again).toBeDefined();
    expect(again).not.toBe(payloads[0]);
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
