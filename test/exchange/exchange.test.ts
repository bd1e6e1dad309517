import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Harness,
  NPM_TOKEN_AUDIENCE,
  PYPI_TOKEN_AUDIENCE,
  startHarness,
  TRUSTPUB_ISSUER,
} from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function verifyIssued(token: string) {
  const jwks = await (await fetch(`${h.url}/.well-known/jwks.json`)).json();
  return jwtVerify(token, createLocalJWKSet(jwks), { issuer: TRUSTPUB_ISSUER, typ: "at+jwt" });
}

describe("native exchange", () => {
  it("exchanges a GitHub Actions token once for a scoped token verifiable through the JWKS", async () => {
    const ci = await h.githubToken();
    const res = await h.exchange(ci);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body).toMatchObject({
      token_type: "Bearer",
      expires_in: 900,
      registry: "npm-internal",
      publishers: ["acme-demo-release"],
      packages: ["@acme/demo", "@acme/demo-*"],
      permissions: ["publish"],
    });
    expect(res.body.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const { payload, protectedHeader } = await verifyIssued(res.body.token as string);
    expect(protectedHeader).toMatchObject({ alg: "ES256", typ: "at+jwt" });
    expect(payload).toMatchObject({
      iss: TRUSTPUB_ISSUER,
      sub: "ci:github:repo:acme/demo:environment:release",
      aud: NPM_TOKEN_AUDIENCE,
      client_id: "acme-demo-release",
      publishers: ["acme-demo-release"],
      scope: "publish:@acme/demo publish:@acme/demo-*",
      act: {
        iss: h.github.url,
        repository: "acme/demo",
        repository_id: "892394032",
        repository_owner_id: "1234567",
        ref: "refs/tags/v1.2.3",
        environment: "release",
        run_id: "9876543210",
      },
    });
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(String(payload.jti)).toMatch(/^[A-Za-z0-9_-]{22}$/);

    const again = await h.exchange(ci);
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      error: "invalid_request",
      error_description: "token has already been used",
      reason: "replayed_token",
    });
  });

  it("exchanges a GitLab CI token for its PyPI publisher", async () => {
    const res = await h.exchange(await h.gitlabToken());
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      registry: "pypi-internal",
      publishers: ["acme-demo-gitlab"],
      packages: ["acme-demo"],
    });
    const { payload } = await verifyIssued(res.body.token as string);
    expect(payload.aud).toBe(PYPI_TOKEN_AUDIENCE);
    expect(payload.act).toMatchObject({
      repository: "https://gitlab.example/acme/demo",
      project_id: "4242",
      ref: "refs/tags/v1.2.3",
    });
  });

  it("narrows the grant to the packages and permissions asked for", async () => {
    const res = await h.exchange(await h.githubToken(), {
      packages: ["@acme/demo-cli"],
      permissions: ["read"],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ packages: ["@acme/demo-cli"], permissions: ["read"] });
    const { payload } = await verifyIssued(res.body.token as string);
    expect(payload.scope).toBe("read:@acme/demo-cli");
  });

  it("refuses a package outside the grant without burning the token", async () => {
    const ci = await h.githubToken();
    const before = await h.storedKeys();
    const res = await h.exchange(ci, { packages: ["@acme/other"] });
    expect(res.status).toBe(403);
    expect(res.body.reason).toBe("scope_exceeded");
    expect(res.body.token).toBeUndefined();
    expect(await h.storedKeys()).toBe(before);
    expect((await h.exchange(ci, { packages: ["@acme/demo"] })).status).toBe(200);
  });

  it("refuses yank when only publish is granted", async () => {
    const res = await h.exchange(await h.githubToken(), { permissions: ["yank"] });
    expect(res.status).toBe(403);
    expect(res.body.reason).toBe("scope_exceeded");
  });

  it("emits one audit event per attempt, never holding a token", async () => {
    const ci = await h.githubToken();
    const count = h.audit.events.length;
    await h.exchange(ci);
    await h.exchange(ci);
    const events = h.audit.events.slice(count);
    expect(events.map((e) => [e.outcome, e.reason])).toEqual([
      ["success", undefined],
      ["refused", "replayed_token"],
    ]);
    expect(events[0]!.issued?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(events[0]!.ci).toMatchObject({
      issuer: "github",
      repository: "acme/demo",
      sha: expect.any(String),
    });
    expect(JSON.stringify(events)).not.toContain(ci);
  });
});

describe("RFC 8693 token exchange", () => {
  const form = (fields: Record<string, string>) =>
    fetch(`${h.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
  const base = (token: string) => ({
    grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
    subject_token: token,
    subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
  });

  it("answers per RFC 8693 section 2.2 with a scope", async () => {
    const res = await form({
      ...base(await h.githubToken()),
      audience: NPM_TOKEN_AUDIENCE,
      scope: "publish:@acme/demo",
    });
    const body = await res.json();
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(body).toMatchObject({
      issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
      token_type: "Bearer",
      expires_in: 900,
      scope: "publish:@acme/demo",
    });
    expect(decodeProtectedHeader(body.access_token).typ).toBe("at+jwt");
  });

  it("refuses another registry's audience as invalid_target", async () => {
    const ci = await h.githubToken();
    const res = await form({ ...base(ci), audience: PYPI_TOKEN_AUDIENCE });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_target", reason: "invalid_target" });
  });

  it("refuses other grant types and a replay with RFC 6749 error codes", async () => {
    const wrongGrant = await form({ ...base("x.y.z"), grant_type: "client_credentials" });
    expect(wrongGrant.status).toBe(400);
    expect((await wrongGrant.json()).error).toBe("unsupported_grant_type");

    const ci = await h.githubToken();
    expect((await form(base(ci))).status).toBe(200);
    const replay = await form(base(ci));
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({
      error: "invalid_request",
      reason: "replayed_token",
    });
  });

  it("refuses a scope beyond the grant as invalid_scope", async () => {
    const res = await form({ ...base(await h.githubToken()), scope: "publish:left-pad" });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_scope", reason: "scope_exceeded" });
  });
});

describe("discovery documents", () => {
  it("publishes the JWKS without private members and the RFC 8414 metadata", async () => {
    const jwks = await (await fetch(`${h.url}/.well-known/jwks.json`)).json();
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(jwks.keys[0].d).toBeUndefined();
    const meta = await (await fetch(`${h.url}/.well-known/oauth-authorization-server`)).json();
    expect(meta).toMatchObject({
      issuer: TRUSTPUB_ISSUER,
      token_endpoint: `${TRUSTPUB_ISSUER}/token`,
      jwks_uri: `${TRUSTPUB_ISSUER}/.well-known/jwks.json`,
    });
  });

  it("answers /healthz and /readyz", async () => {
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", checks: { replay_store: "ok" } });
  });
});
