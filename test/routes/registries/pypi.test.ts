import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectEcosystemRefusal } from "../../support/ecosystem-refusal.js";
import { type Harness, PYPI_AUDIENCE, PYPI_TOKEN_AUDIENCE } from "../../support/harness.js";
import { postJson, send, startFlavorsHarness } from "../../support/registries.js";

let h: Harness;
beforeAll(async () => {
  h = await startFlavorsHarness();
});
afterAll(async () => h?.close());

const MINT = "/r/pypi-internal/_/oidc/mint-token";
const failed = (code: string, description: string) => ({
  message: "Token request failed",
  errors: [{ code, description }],
});

describe("PyPI trusted publishing", () => {
  it("tells the publish action which audience to request", async () => {
    const res = await send(h.url, "/r/pypi-internal/_/oidc/audience");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ audience: PYPI_AUDIENCE });
  });

  it("mints 200 {success, token, expires} covering the publisher's projects", async () => {
    const res = await postJson(h.url, MINT, { token: await h.gitlabToken() });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(["success", "token", "expires"]);
    expect(res.body.success).toBe(true);
    const claims = decodeJwt(res.body.token as string);
    expect(res.body.expires).toBe(claims.exp);
    expect(claims).toMatchObject({
      aud: PYPI_TOKEN_AUDIENCE,
      scope: "publish:acme-demo",
      packages: ["acme-demo"],
    });
  });

  it("refuses a replay as invalid-reuse-token", async () => {
    const ci = await h.gitlabToken();
    expect((await postJson(h.url, MINT, { token: ci })).status).toBe(200);
    const before = await h.storedKeys();
    const res = await postJson(h.url, MINT, { token: ci });
    expect(res.body).toEqual(failed("invalid-reuse-token", "token has already been used"));
    await expectEcosystemRefusal(h, res, 422, "replayed_token", before);
  });

  it("refuses an identity no publisher trusts as invalid-publisher", async () => {
    const before = await h.storedKeys();
    const res = await postJson(h.url, MINT, { token: await h.gitlabToken({ project_id: "999" }) });
    expect(res.body).toEqual(
      failed("invalid-publisher", "no publisher trusts this identity for this registry"),
    );
    await expectEcosystemRefusal(h, res, 422, "no_matching_publisher", before);
  });

  it("refuses a bad token as invalid-token and a bad body as invalid-payload", async () => {
    const before = await h.storedKeys();
    const expired = await postJson(h.url, MINT, {
      token: await h.gitlabToken({ exp: Math.floor(Date.now() / 1000) - 600 }),
    });
    expect(expired.body).toEqual(failed("invalid-token", "the token has expired"));
    expect(expired.headers.get("www-authenticate")).toBeNull();
    await expectEcosystemRefusal(h, expired, 422, "invalid_claims", before);

    const missing = await postJson(h.url, MINT, { jwt: await h.gitlabToken() });
    expect(missing.body).toEqual(
      failed("invalid-payload", "token: Invalid input: expected string, received undefined"),
    );
    await expectEcosystemRefusal(h, missing, 422, "malformed_request", before);

    const plain = await send(h.url, MINT, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "token",
    });
    expect(plain.body).toEqual(failed("invalid-payload", "content type must be application/json"));
    await expectEcosystemRefusal(h, plain, 422, "malformed_request", before);
  });

  it("refuses a token for another registry", async () => {
    const before = await h.storedKeys();
    const res = await postJson(h.url, MINT, { token: await h.githubToken() });
    expect(res.body).toEqual(
      failed("invalid-token", "the token's audience is not this registry's"),
    );
    await expectEcosystemRefusal(h, res, 422, "invalid_claims", before);
  });
});
