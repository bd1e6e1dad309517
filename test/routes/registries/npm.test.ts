import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectEcosystemRefusal } from "../../support/ecosystem-refusal.js";
import { type Harness, NPM_TOKEN_AUDIENCE, PYPI_AUDIENCE } from "../../support/harness.js";
import { send, startFlavorsHarness } from "../../support/registries.js";

let h: Harness;
beforeAll(async () => {
  h = await startFlavorsHarness("/");
});
afterAll(async () => h?.close());

const EXCHANGE = "/-/npm/v1/oidc/token/exchange/package/";
const exchangeFor = (name: string, token?: string, headers: Record<string, string> = {}) =>
  send(h.url, `${EXCHANGE}${name}`, {
    method: "POST",
    headers: token === undefined ? headers : { authorization: `Bearer ${token}`, ...headers },
  });

describe("npm trusted publishing exchange", () => {
  it("answers 201 {token} scoped to the package in the path", async () => {
    const res = await exchangeFor("@acme%2fdemo", await h.githubToken());
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(Object.keys(res.body)).toEqual(["token"]);
    const claims = decodeJwt(res.body.token as string);
    expect(claims).toMatchObject({
      aud: NPM_TOKEN_AUDIENCE,
      registry: "npm-internal",
      scope: "publish:@acme/demo",
      packages: ["@acme/demo"],
      permissions: ["publish"],
    });
  });

  it("reads the scoped name whether the proxy decoded %2f or not", async () => {
    const res = await exchangeFor("@acme/demo-cli", await h.githubToken());
    expect(res.status).toBe(201);
    expect(decodeJwt(res.body.token as string).packages).toEqual(["@acme/demo-cli"]);
  });

  it("refuses a replay with npm's message body and 409", async () => {
    const ci = await h.githubToken();
    expect((await exchangeFor("@acme%2fdemo", ci)).status).toBe(201);
    const before = await h.storedKeys();
    const again = await exchangeFor("@acme%2fdemo", ci);
    expect(again.body).toEqual({
      message: "OIDC token exchange error - token has already been used",
    });
    await expectEcosystemRefusal(h, again, 409, "replayed_token", before);
  });

  it("refuses a package outside the grant without burning the CI token", async () => {
    const ci = await h.githubToken();
    const before = await h.storedKeys();
    const res = await exchangeFor("@acme%2fother", ci);
    expect(res.body).toEqual({
      message: "OIDC token exchange error - a requested package is not granted",
    });
    await expectEcosystemRefusal(h, res, 403, "scope_exceeded", before);
    expect((await exchangeFor("@acme%2fdemo", ci)).status).toBe(201);
  });

  it("refuses a request without a bearer token", async () => {
    const before = await h.storedKeys();
    const res = await exchangeFor("@acme%2fdemo", undefined, {
      authorization: "Basic Zm9vOmJhcg==",
    });
    expect(res.body).toEqual({
      message:
        "OIDC token exchange error - an Authorization: Bearer header holding the CI token is required",
    });
    await expectEcosystemRefusal(h, res, 401, "unauthorized", before);
  });

  it("refuses a CI token meant for another registry", async () => {
    const before = await h.storedKeys();
    const res = await exchangeFor("@acme%2fdemo", await h.githubToken({ aud: PYPI_AUDIENCE }));
    expect(res.body).toEqual({
      message: "OIDC token exchange error - the token's audience is not this registry's",
    });
    expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    await expectEcosystemRefusal(h, res, 401, "invalid_claims", before);
  });

  it("refuses garbage and a path that names no package", async () => {
    const before = await h.storedKeys();
    const garbage = await exchangeFor("@acme%2fdemo", "not-a-jwt");
    expect(garbage.body).toEqual({
      message: "OIDC token exchange error - token is not a compact JWS with base64url parts",
    });
    await expectEcosystemRefusal(h, garbage, 401, "malformed_token", before);

    const path = await exchangeFor("@acme%2fdemo/extra", await h.githubToken());
    expect(path.body).toEqual({
      message: "OIDC token exchange error - the path does not name an npm package",
    });
    await expectEcosystemRefusal(h, path, 400, "malformed_request", before);
  });

  it("serves the npm endpoints at the registry's mount only", async () => {
    const res = await send(h.url, `/r/npm-internal${EXCHANGE}@acme%2fdemo`, { method: "POST" });
    expect(res.status).toBe(404);
    expect(res.body.reason).toBe("not_found");
  });
});
