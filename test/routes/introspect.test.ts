import { decodeJwt, importJWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateJwk } from "../../src/tokens/keys.js";
import { type Harness, NPM_TOKEN_AUDIENCE, TRUSTPUB_ISSUER } from "../support/harness.js";
import { INTROSPECT_SECRET, send, startFlavorsHarness } from "../support/registries.js";

let h: Harness;
beforeAll(async () => {
  h = await startFlavorsHarness();
});
afterAll(async () => h?.close());

const NPM_SECRET = INTROSPECT_SECRET["npm-internal"];
const introspect = (token: string, secret: string | null = NPM_SECRET, form = true) =>
  send(h.url, "/v1/introspect", {
    method: "POST",
    headers: {
      "content-type": form ? "application/x-www-form-urlencoded" : "application/json",
      ...(secret === null ? {} : { authorization: `Bearer ${secret}` }),
    },
    body: form ? new URLSearchParams({ token }).toString() : JSON.stringify({ token }),
  });
const issueNpm = async () => (await h.exchange(await h.githubToken())).body.token as string;

describe("introspection (RFC 7662)", () => {
  it("describes an active token of the caller's registry, with the CI facts in act", async () => {
    const token = await issueNpm();
    const claims = decodeJwt(token);
    for (const form of [true, false]) {
      const res = await introspect(token, NPM_SECRET, form);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.body).toEqual({
        active: true,
        iss: TRUSTPUB_ISSUER,
        sub: "ci:github:repo:acme/demo:environment:release",
        aud: NPM_TOKEN_AUDIENCE,
        client_id: "acme-demo-release",
        scope: "publish:@acme/demo publish:@acme/demo-*",
        token_type: "Bearer",
        exp: claims.exp,
        iat: claims.iat,
        jti: claims.jti,
        registry: "npm-internal",
        publishers: ["acme-demo-release"],
        packages: ["@acme/demo", "@acme/demo-*"],
        permissions: ["publish"],
        act: claims.act,
      });
    }
  });

  // Security case 47.
  it("answers 401 without credentials, or with credentials that are no registry's", async () => {
    const token = await issueNpm();
    const before = await h.storedKeys();
    for (const secret of [null, "wrong-secret-wrong-secret-wrong-secret", `${NPM_SECRET}x`]) {
      const res = await introspect(token, secret);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: "invalid_client", reason: "unauthorized" });
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="trustpub"');
      expect(res.text).not.toContain(token);
    }
    const basic = await send(h.url, "/v1/introspect", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`npm-internal:${NPM_SECRET}`)}`,
      },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(basic.status).toBe(401);
    expect(await h.storedKeys()).toBe(before);
  });

  // Security case 47.
  it("answers exactly {active: false} for garbage, expired, revoked and foreign tokens", async () => {
    const inactive = { active: false };
    const check = async (token: string) => {
      const res = await introspect(token);
      expect(res.status).toBe(200);
      expect(res.text).toBe(JSON.stringify(inactive));
    };

    for (const garbage of ["garbage", "a.b.c", "x".repeat(20_000), "eyJhbGciOiJub25lIn0.e30."]) {
      await check(garbage);
    }

    const revoked = await issueNpm();
    const rev = await send(h.url, "/v1/revoke", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: revoked }).toString(),
    });
    expect(rev.status).toBe(200);
    await check(revoked);

    // Another registry's token, asked about with this registry's secret.
    const pypi = (await h.exchange(await h.gitlabToken())).body.token as string;
    await check(pypi);
    expect((await introspect(pypi, INTROSPECT_SECRET["pypi-internal"])).body.active).toBe(true);

    // The same claims signed by a key that is not trustpub's.
    const attacker = await generatePrivateJwk("ES256");
    const forged = await new SignJWT(decodeJwt(await issueNpm()))
      .setProtectedHeader({ alg: "ES256", kid: attacker.kid!, typ: "at+jwt" })
      .sign(await importJWK(attacker, "ES256"));
    await check(forged);

    // A CI token is never an issued token.
    await check(await h.githubToken());

    const expiring = await issueNpm();
    h.clock.offsetMs = (900 + 31) * 1000;
    try {
      await check(expiring);
    } finally {
      h.clock.offsetMs = 0;
    }
    expect((await introspect(expiring)).body.active).toBe(true);
  });

  it("answers 400 when no token is given", async () => {
    const res = await send(h.url, "/v1/introspect", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${NPM_SECRET}` },
      body: "{}",
    });
    expect(res.status).toBe(400);
    expect(res.body.reason).toBe("malformed_request");
  });

  it("lists the introspection and revocation endpoints in the RFC 8414 metadata", async () => {
    const meta = await send(h.url, "/.well-known/oauth-authorization-server");
    expect(meta.body).toMatchObject({
      introspection_endpoint: `${TRUSTPUB_ISSUER}/v1/introspect`,
      revocation_endpoint: `${TRUSTPUB_ISSUER}/v1/revoke`,
    });
  });
});
