import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubClaims } from "../../support/claims.js";
import { expectEcosystemRefusal } from "../../support/ecosystem-refusal.js";
import type { Harness } from "../../support/harness.js";
import { postJson, RUBYGEMS_AUDIENCE, startFlavorsHarness } from "../../support/registries.js";

let h: Harness;
beforeAll(async () => {
  h = await startFlavorsHarness();
});
afterAll(async () => h?.close());

const EXCHANGE = "/r/gems-internal/api/v1/oidc/trusted_publisher/exchange_token";
const ciToken = (overrides = {}) => h.githubToken({ aud: RUBYGEMS_AUDIENCE, ...overrides });

describe("RubyGems trusted publishing", () => {
  it("answers 201 with an API key, its scopes, the gem and its expiry", async () => {
    const res = await postJson(h.url, EXCHANGE, { jwt: await ciToken() });
    expect(res.status).toBe(201);
    const key = res.body.rubygems_api_key as string;
    const claims = decodeJwt(key);
    expect(res.body).toEqual({
      rubygems_api_key: key,
      name: "trustpub acme-demo-gem",
      scopes: ["push_rubygem"],
      gem: "acme-demo",
      expires_at: new Date(claims.exp! * 1000).toISOString().replace(".000Z", "Z"),
    });
    expect(claims.scope).toBe("publish:acme-demo");
  });

  it("refuses a replay with 400 {error}", async () => {
    const ci = await ciToken();
    expect((await postJson(h.url, EXCHANGE, { jwt: ci })).status).toBe(201);
    const before = await h.storedKeys();
    const res = await postJson(h.url, EXCHANGE, { jwt: ci });
    expect(res.body).toEqual({ error: "token has already been used" });
    await expectEcosystemRefusal(h, res, 400, "replayed_token", before);
  });

  it("answers 404 when no publisher or issuer fits, 400 for a bad JWT", async () => {
    const before = await h.storedKeys();
    const stranger = await postJson(h.url, EXCHANGE, {
      jwt: await ciToken({ repository_owner_id: "1" }),
    });
    expect(stranger.body).toEqual({ error: "no publisher trusts this identity for this registry" });
    await expectEcosystemRefusal(h, stranger, 404, "no_matching_publisher", before);

    const foreignIssuer = await h.github.sign(
      githubClaims("https://token.actions.example", RUBYGEMS_AUDIENCE),
    );
    const untrusted = await postJson(h.url, EXCHANGE, { jwt: foreignIssuer });
    expect(untrusted.body).toEqual({ error: "the token's issuer is not trusted" });
    await expectEcosystemRefusal(h, untrusted, 404, "untrusted_issuer", before);

    const bad = await postJson(h.url, EXCHANGE, { jwt: "a.b.c" });
    expect(bad.body).toEqual({ error: "token header is not valid base64url JSON" });
    await expectEcosystemRefusal(h, bad, 400, "malformed_token", before);
  });
});
