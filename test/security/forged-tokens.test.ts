import { CompactSign, FlattenedSign } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startServer } from "../../src/server.js";
import { memoryLogger } from "../../src/telemetry/logger.js";
import { type Canary, startCanary } from "../support/canary.js";
import { githubClaims } from "../support/claims.js";
import {
  attackerKey,
  b64url,
  es256Malformed,
  hs256WithSecret,
  jsonSerialization,
  jweLike,
  publicKeyForms,
  unsigned,
  weakRsaJwks,
  withEmbeddedJwk,
  x5cSelfSigned,
} from "../support/forge.js";
import {
  type Harness,
  type HttpAnswer,
  NPM_AUDIENCE,
  startHarness,
  TRUSTPUB_ISSUER,
} from "../support/harness.js";
import { jsonHandler } from "../support/issuer.js";

/*
 * Section A of the security cases: tokens an attacker forges or bends, each
 * refused with 401 and its reason, with no token issued and no JTI written.
 * Every token carries claims the default publisher trusts, so the only thing
 * wrong with it is the forgery under test.
 */

/** Exchanges `token` and asserts a refusal that issued nothing and wrote nothing. */
async function expectRefused(
  h: Harness,
  token: string,
  status: number,
  reason: string,
): Promise<HttpAnswer> {
  const before = await h.storedKeys();
  const res = await h.exchange(token);
  expect(res.status, `${reason}: ${res.text}`).toBe(status);
  expect(res.body.reason).toBe(reason);
  expect(res.body.token).toBeUndefined();
  expect(await h.storedKeys()).toBe(before);
  return res;
}

async function expectExchanged(h: Harness, token: string): Promise<HttpAnswer> {
  const before = await h.storedKeys();
  const res = await h.exchange(token);
  expect(res.status, res.text).toBe(200);
  expect(typeof res.body.token).toBe("string");
  expect(await h.storedKeys()).toBe(before + 1);
  return res;
}

/**
 * Records every fetch the process makes to anything but trustpub itself. The
 * server runs in this process and fetches through the global `fetch`, so this
 * sees each outbound request it attempts, including ones to addresses (cloud
 * metadata) that no test server can stand in for. Calls pass through unchanged.
 */
function recordOutbound(own: string): { urls: string[]; restore(): void } {
  const original = globalThis.fetch;
  const urls: string[] = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.startsWith(own)) urls.push(url);
    return original(input, init);
  });
  return { urls, restore: () => spy.mockRestore() };
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function issuerConfig(config: Record<string, unknown>, id: string): Record<string, unknown> {
  return (config.ci_issuers as Record<string, Record<string, unknown>>)[id]!;
}

describe("A. forged tokens against an RS256 issuer", () => {
  let h: Harness;
  const claims = () => githubClaims(h.github.url, NPM_AUDIENCE);
  const realKid = () => h.github.key.kid;

  beforeAll(async () => {
    h = await startHarness();
    // Loads the issuer's keys once, so later counters only show what a forgery triggers.
    await expectExchanged(h, await h.githubToken());
  });
  afterAll(async () => {
    await h?.close();
  });

  it("1. alg none/None/nOnE with an empty signature is refused", async () => {
    for (const alg of ["none", "None", "nOnE", "NONE"]) {
      const token = unsigned({ alg, kid: realKid(), typ: "JWT" }, claims());
      expect(token.endsWith(".")).toBe(true);
      const res = await expectRefused(h, token, 401, "invalid_signature");
      expect(res.body.error_description).toMatch(/algorithm/);
    }
    // No alg at all is no better.
    await expectRefused(
      h,
      unsigned({ kid: realKid(), typ: "JWT" }, claims()),
      401,
      "invalid_signature",
    );
  });

  it("2. HS256 keyed with the issuer's RSA public key (PEM, DER, n bytes) is refused", async () => {
    const forms = publicKeyForms(h.github.key.publicJwk);
    for (const [form, secret] of Object.entries(forms)) {
      const token = hs256WithSecret({ alg: "HS256", kid: realKid(), typ: "JWT" }, claims(), secret);
      const res = await expectRefused(h, token, 401, "invalid_signature");
      expect(res.body.error_description, form).toMatch(/algorithm/);
    }
  });

  it("3. RS256 signed by the attacker under the issuer's real kid is refused", async () => {
    const attacker = await attackerKey();
    const token = await h.github.sign(claims(), { key: attacker.privateKey, kid: realKid() });
    const res = await expectRefused(h, token, 401, "invalid_signature");
    expect(res.body.error_description).toMatch(/signature does not verify/);
  });

  it("4. an embedded jwk header carrying the attacker's key is refused", async () => {
    const attacker = await attackerKey();
    await expectRefused(h, await withEmbeddedJwk(claims(), attacker), 401, "invalid_signature");
    // Under the real kid too: the embedded key is never a source of keys.
    const res = await expectRefused(
      h,
      await withEmbeddedJwk(claims(), attacker, { kid: realKid() }),
      401,
      "invalid_signature",
    );
    expect(res.body.error_description).toMatch(/jwk header parameter is not accepted/);
  });

  describe("5. jku / x5u", () => {
    let canary: Canary;
    beforeAll(async () => {
      canary = await startCanary();
    });
    afterAll(async () => {
      await canary?.stop();
    });

    it("5. jku or x5u pointing at an attacker URL or a metadata address is refused with zero outbound requests", async () => {
      const attacker = await attackerKey();
      const targets: Record<string, string>[] = [
        { jku: `${canary.url}/jwks.json` },
        { x5u: `${canary.url}/cert.pem` },
        { jku: "http://169.254.169.254/latest/meta-data/iam/security-credentials/" },
        { x5u: "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/" },
        { jku: "http://[fd00:ec2::254]/latest/meta-data/" },
        { jku: `${canary.url}/jwks.json`, x5u: `${canary.url}/cert.pem` },
      ];
      h.github.resetCounts();
      h.gitlab.resetCounts();
      const outbound = recordOutbound(h.url);
      try {
        for (const header of targets) {
          // Signed by the attacker under their own kid, and under the issuer's real kid.
          for (const kid of [attacker.publicJwk.kid!, realKid()]) {
            const token = await h.github.sign(claims(), {
              key: attacker.privateKey,
              kid,
              header,
            });
            const res = await expectRefused(h, token, 401, "invalid_signature");
            expect(res.body.error_description).toMatch(
              /(jku|x5u) header parameter is not accepted/,
            );
          }
        }
        // A request fired in the background would land shortly after the answers.
        await settle(250);
        expect(outbound.urls).toEqual([]);
      } finally {
        outbound.restore();
      }
      expect(canary.hits()).toBe(0);
      expect(canary.connections()).toBe(0);
      expect(h.github.requests.total).toBe(0);
      expect(h.gitlab.requests.total).toBe(0);
    });
  });

  it("6. x5c with a self-signed certificate is refused", async () => {
    await expectRefused(h, await x5cSelfSigned(claims()), 401, "invalid_signature");
    const res = await expectRefused(
      h,
      await x5cSelfSigned(claims(), { kid: realKid() }),
      401,
      "invalid_signature",
    );
    expect(res.body.error_description).toMatch(/x5c header parameter is not accepted/);
  });

  it("7. a kid of ../../dev/null, SQL-ish text or 8 KB of characters is refused", async () => {
    h.github.resetCounts();
    const kids = [
      "../../dev/null",
      "../../../../../../etc/passwd",
      "' OR '1'='1' --",
      "x'; DROP TABLE keys; --",
      "k".repeat(8 * 1024),
    ];
    for (const kid of kids) {
      // Signed with the issuer's real key: only the kid is wrong.
      const token = await h.github.sign(claims(), { header: { kid } });
      const res = await expectRefused(h, token, 401, "invalid_signature");
      expect(res.body.error_description).toMatch(/no issuer key matches the token's kid/);
    }
    // Unknown kids may refresh the keys at most once per cooldown, never once per token.
    expect(h.github.requests.jwks).toBeLessThanOrEqual(1);
    expect(h.github.requests.discovery).toBe(0);
  });

  it("8. crit naming an unknown header, or b64: false, is refused", async () => {
    const key = h.github.key.privateKey;
    const encode = (text: string) => new TextEncoder().encode(text);

    const crit = await new CompactSign(encode(JSON.stringify(claims())))
      .setProtectedHeader({
        alg: "RS256",
        kid: realKid(),
        typ: "JWT",
        crit: ["x-trustpub-policy"],
        "x-trustpub-policy": "skip",
      })
      .sign(key, { crit: { "x-trustpub-policy": true } });
    let res = await expectRefused(h, crit, 401, "malformed_token");
    expect(res.body.error_description).toMatch(/critical header/);

    // RFC 7797: with b64 false the payload is signed as is. Here the "unencoded" payload is the
    // base64url text of the claims, so the token reads and verifies exactly like a normal one:
    // only the b64 member differs.
    for (const b64 of [false, true]) {
      const jws = await new FlattenedSign(encode(b64url(JSON.stringify(claims()))))
        .setProtectedHeader({ alg: "RS256", kid: realKid(), typ: "JWT", b64, crit: ["b64"] })
        .sign(key);
      const token = `${jws.protected}.${jws.payload}.${jws.signature}`;
      res = await expectRefused(h, token, 401, "malformed_token");
    }
  });

  it("10. a JWE (five parts), the JSON serialization or a nested JWT (cty: JWT) is refused", async () => {
    let res = await expectRefused(h, jweLike({ kid: realKid() }), 401, "malformed_token");
    expect(res.body.error_description).toMatch(/JWE/);
    // JWE header members in a three-part token.
    await expectRefused(
      h,
      await h.github.sign(claims(), { header: { enc: "A256GCM" } }),
      401,
      "malformed_token",
    );

    const valid = await h.githubToken();
    const [protectedHeader, payload, signature] = valid.split(".");
    await expectRefused(h, jsonSerialization(valid), 401, "malformed_token");
    await expectRefused(
      h,
      JSON.stringify({ payload, signatures: [{ protected: protectedHeader, signature }] }),
      401,
      "malformed_token",
    );
    // The JSON serialization as an object in the body is not even a token string.
    const before = await h.storedKeys();
    res = await h.post("/v1/exchange", { token: JSON.parse(jsonSerialization(valid)) });
    expect(res.status).toBe(400);
    expect(res.body.reason).toBe("malformed_request");
    expect(res.body.token).toBeUndefined();
    expect(await h.storedKeys()).toBe(before);

    // A valid token wrapped in an outer JWS signed by the real issuer key.
    for (const cty of ["JWT", "jwt", "application/jwt"]) {
      const nested = await new CompactSign(new TextEncoder().encode(valid))
        .setProtectedHeader({ alg: "RS256", kid: realKid(), typ: "JWT", cty })
        .sign(h.github.key.privateKey);
      res = await expectRefused(h, nested, 401, "malformed_token");
      expect(res.body.error_description).toMatch(/nested/);
    }
    // None of these burnt the inner token.
    await expectExchanged(h, valid);
  });
});

describe("A. forged tokens against an ES256 issuer", () => {
  let h: Harness;
  const claims = () => githubClaims(h.github.url, NPM_AUDIENCE);

  beforeAll(async () => {
    h = await startHarness({
      githubAlg: "ES256",
      configure: (config) => {
        issuerConfig(config, "github").algorithms = ["ES256"];
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("9. ES256 with r = s = 0, a DER-encoded signature, or a truncated one is refused", async () => {
    const header = { alg: "ES256", kid: h.github.key.kid, typ: "JWT" };
    for (const kind of ["zero", "der", "truncated"] as const) {
      const token = es256Malformed(header, claims(), kind, h.github.key.privateKey);
      const res = await expectRefused(h, token, 401, "invalid_signature");
      expect(res.body.error_description, kind).toMatch(/signature does not verify/);
    }
    // RS256 is not among this issuer's algorithms, whoever signed it.
    const attacker = await attackerKey();
    await expectRefused(
      h,
      await h.github.sign(claims(), { key: attacker.privateKey, kid: h.github.key.kid }),
      401,
      "invalid_signature",
    );
    // The issuer's own, well-formed ES256 signature passes.
    await expectExchanged(h, await h.githubToken());
  });
});

describe("A. a JWKS holding only an RSA key under 2048 bits", () => {
  let h: Harness;
  const weak = weakRsaJwks();
  const claims = () => githubClaims(h.github.url, NPM_AUDIENCE);

  beforeAll(async () => {
    // No cooldown, so a token with an unknown kid makes trustpub fetch the JWKS again.
    h = await startHarness({
      keyTiming: {
        cooldownMs: 0,
        initialRetryMs: 0,
        refreshAfterMs: 10 * 60_000,
        maxStaleMs: 24 * 3_600_000,
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("11. an RSA-1024 JWKS yields no usable key: unavailable while nothing else was ever loaded, invalid_signature once good keys are cached", async () => {
    // The issuer serves only the weak key before trustpub ever loaded its keys. trustpub drops
    // RSA keys under 2048 bits, so the issuer has no usable key at all: it is unusable, which
    // SPEC section 5 answers with unavailable (503, "issuer keys unobtainable"). It is not
    // invalid_signature, because no key was ever compared: the fault is the issuer's, an
    // operator must see it as an outage, and no token is issued either way.
    h.github.setJwksHandler(jsonHandler(weak.jwks));
    h.github.resetCounts();
    // Also shows that recordOutbound sees the server's own fetches (its zero counts mean something).
    const outbound = recordOutbound(h.url);
    let res: HttpAnswer;
    try {
      res = await expectRefused(h, weak.sign(claims()), 503, "unavailable");
    } finally {
      outbound.restore();
    }
    expect(res.body.error_description).toMatch(/issuer keys are unobtainable/);
    expect(outbound.urls).toEqual([
      `${h.github.url}/.well-known/openid-configuration`,
      `${h.github.url}/jwks`,
    ]);
    expect(h.github.requests.jwks).toBe(1);
    // The issuer's real key is refused the same way: no key means no exchange at all.
    await expectRefused(h, await h.githubToken(), 503, "unavailable");

    // The issuer fixes its JWKS: its real key works.
    h.github.setJwksHandler(undefined);
    await expectExchanged(h, await h.githubToken());

    // The JWKS turns weak-only again. The weak kid is unknown, so trustpub refreshes; the
    // refreshed set has no usable key, and an empty set never replaces good keys.
    h.github.setJwksHandler(jsonHandler(weak.jwks));
    h.github.resetCounts();
    res = await expectRefused(h, weak.sign(claims()), 401, "invalid_signature");
    expect(res.body.error_description).toMatch(/no issuer key matches the token's kid/);
    expect(h.github.requests.jwks).toBe(1);
    // Under the real kid, the weak signature does not verify against the cached real key.
    await expectRefused(
      h,
      weak.sign(claims(), { kid: h.github.key.kid }),
      401,
      "invalid_signature",
    );
    await expectExchanged(h, await h.githubToken());
    h.github.setJwksHandler(undefined);
  });

  it("11. a config whose inline JWKS holds only an RSA-1024 key never serves", async () => {
    const start = startServer({
      config: {
        issuer: TRUSTPUB_ISSUER,
        ci_issuers: {
          github: {
            url: "https://token.actions.githubusercontent.com",
            provider: "github",
            jwks: weak.jwks,
          },
        },
        registries: {
          "npm-internal": {
            flavor: "npm",
            audience: NPM_AUDIENCE,
            token_audience: "https://registry.test",
          },
        },
      },
      env: {},
      port: 0,
      host: "127.0.0.1",
      logger: memoryLogger(),
    });
    await expect(start).rejects.toThrow(
      /ci_issuers\.github\.jwks: holds no usable verification key/,
    );
  });
});
