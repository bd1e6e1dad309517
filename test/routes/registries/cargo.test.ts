import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectEcosystemRefusal } from "../../support/ecosystem-refusal.js";
import type { Harness } from "../../support/harness.js";
import { CARGO_AUDIENCE, postJson, send, startFlavorsHarness } from "../../support/registries.js";

let h: Harness;
beforeAll(async () => {
  h = await startFlavorsHarness();
});
afterAll(async () => h?.close());

const TOKENS = "/r/cargo-internal/api/v1/trusted_publishing/tokens";
const ciToken = (overrides = {}) => h.githubToken({ aud: CARGO_AUDIENCE, ...overrides });
const authz = (token: string) =>
  send(h.url, "/v1/authz/cargo-internal", {
    headers: {
      authorization: token,
      "x-original-method": "DELETE",
      "x-original-uri": "/api/v1/crates/acme-demo/1.0.0/yank",
    },
  });

describe("crates.io trusted publishing", () => {
  it("answers 200 {token} covering the publisher's crates for 30 minutes", async () => {
    const res = await postJson(h.url, TOKENS, { jwt: await ciToken() });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(["token"]);
    const claims = decodeJwt(res.body.token as string);
    expect(claims.scope).toBe("publish:acme_demo yank:acme_demo");
    expect(claims.exp! - claims.iat!).toBe(1800);
  });

  it("refuses a replay with crates.io's errors body", async () => {
    const ci = await ciToken();
    expect((await postJson(h.url, TOKENS, { jwt: ci })).status).toBe(200);
    const before = await h.storedKeys();
    const res = await postJson(h.url, TOKENS, { jwt: ci });
    expect(res.body).toEqual({ errors: [{ detail: "token has already been used" }] });
    await expectEcosystemRefusal(h, res, 409, "replayed_token", before);
  });

  it("refuses refused events and a missing jwt", async () => {
    const before = await h.storedKeys();
    const event = await postJson(h.url, TOKENS, {
      jwt: await ciToken({ event_name: "pull_request_target" }),
    });
    expect(event.body).toEqual({
      errors: [
        {
          detail: "event pull_request_target is refused unless the issuer lists it in allow_events",
        },
      ],
    });
    await expectEcosystemRefusal(h, event, 403, "forbidden_event", before);

    const missing = await postJson(h.url, TOKENS, { token: await ciToken() });
    expect(missing.body).toEqual({
      errors: [{ detail: "jwt: Invalid input: expected string, received undefined" }],
    });
    await expectEcosystemRefusal(h, missing, 400, "malformed_request", before);
  });

  it("revokes the bearer on DELETE (204), on every later check", async () => {
    const issued = (await postJson(h.url, TOKENS, { jwt: await ciToken() })).body.token as string;
    expect((await authz(issued)).status).toBe(200);

    const res = await send(h.url, TOKENS, {
      method: "DELETE",
      headers: { authorization: `Bearer ${issued}` },
    });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect((await authz(issued)).status).toBe(401);

    const again = await send(h.url, TOKENS, {
      method: "DELETE",
      headers: { authorization: issued },
    });
    expect(again.status).toBe(204);
    const events = h.audit.events.filter((e) => e.type === "trustpub.revoke");
    expect(events.map((e) => [e.endpoint, e.reason])).toEqual([
      ["cargo", undefined],
      ["cargo", "already_revoked"],
    ]);
    expect(JSON.stringify(events)).not.toContain(issued);
  });

  it("refuses a DELETE without a token of this registry", async () => {
    const before = await h.storedKeys();
    const none = await send(h.url, TOKENS, { method: "DELETE" });
    expect(none.body).toEqual({
      errors: [
        { detail: "the Authorization header must hold a token trustpub issued for this registry" },
      ],
    });
    expect(none.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    await expectEcosystemRefusal(h, none, 401, "invalid_token", before);

    const npmToken = (await h.exchange(await h.githubToken())).body.token as string;
    const foreign = await send(h.url, TOKENS, {
      method: "DELETE",
      headers: { authorization: `Bearer ${npmToken}` },
    });
    await expectEcosystemRefusal(h, foreign, 401, "invalid_token", await h.storedKeys());
  });
});
