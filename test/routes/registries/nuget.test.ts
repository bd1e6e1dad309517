import { request } from "node:http";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectEcosystemRefusal } from "../../support/ecosystem-refusal.js";
import type { Harness, HttpAnswer } from "../../support/harness.js";
import { NUGET_AUDIENCE, postJson, send, startFlavorsHarness } from "../../support/registries.js";

let h: Harness;
beforeAll(async () => {
  h = await startFlavorsHarness();
});
afterAll(async () => h?.close());

const TOKEN = "/r/nuget-internal/api/v2/token";
const BODY = { username: "acme", token_type: "api_key" };
const ciToken = (overrides = {}) => h.githubToken({ aud: NUGET_AUDIENCE, ...overrides });
const login = async (body: unknown, token?: string) =>
  postJson(h.url, TOKEN, body, {
    "user-agent": "NuGet/login",
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  });

/** A request with no User-Agent at all (fetch always sends one). */
function withoutUserAgent(token: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(BODY);
    const req = request(
      `${h.url}${TOKEN}`,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          authorization: `Bearer ${token}`,
        },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: new Headers(res.headers as Record<string, string>),
            body: JSON.parse(text),
            text,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("NuGet trusted publishing", () => {
  it("answers 200 {token_type, expires, api_key} for an hour", async () => {
    const res = await login(BODY, await ciToken());
    expect(res.status).toBe(200);
    const key = res.body.api_key as string;
    const claims = decodeJwt(key);
    expect(res.body).toEqual({
      token_type: "api_key",
      expires: new Date(claims.exp! * 1000).toISOString().replace(".000Z", "Z"),
      api_key: key,
    });
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(claims.scope).toBe("publish:Acme.Demo publish:Acme.Demo.*");
  });

  it("refuses a replay with 401 {error} and a Bearer challenge", async () => {
    const ci = await ciToken();
    expect((await login(BODY, ci)).status).toBe(200);
    const before = await h.storedKeys();
    const res = await login(BODY, ci);
    expect(res.body).toEqual({ error: "token has already been used" });
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
    await expectEcosystemRefusal(h, res, 401, "replayed_token", before);
  });

  it("refuses an identity no publisher trusts with 401", async () => {
    const before = await h.storedKeys();
    const res = await login(BODY, await ciToken({ environment: "staging" }));
    expect(res.body).toEqual({ error: "no publisher trusts this identity for this registry" });
    await expectEcosystemRefusal(h, res, 401, "no_matching_publisher", before);
  });

  it("answers 400 and 415 for requests NuGet's client would never send", async () => {
    const before = await h.storedKeys();
    const noAgent = await withoutUserAgent(await ciToken());
    expect(noAgent.body).toEqual({ error: "a User-Agent header is required" });
    await expectEcosystemRefusal(h, noAgent, 400, "malformed_request", before);

    const wrongType = await login({ username: "acme", token_type: "password" }, await ciToken());
    expect(wrongType.body).toEqual({ error: 'token_type: expected "api_key"' });
    await expectEcosystemRefusal(h, wrongType, 400, "malformed_request", before);

    const noBearer = await login(BODY);
    expect(noBearer.body).toEqual({
      error: "an Authorization: Bearer header holding the CI token is required",
    });
    expect(noBearer.headers.get("www-authenticate")).toBe("Bearer");
    await expectEcosystemRefusal(h, noBearer, 401, "unauthorized", before);

    const plain = await send(h.url, TOKEN, {
      method: "POST",
      headers: {
        "content-type": "text/plain",
        "user-agent": "NuGet/login",
        authorization: `Bearer ${await ciToken()}`,
      },
      body: "x",
    });
    expect(plain.body).toEqual({ error: "content type must be application/json" });
    await expectEcosystemRefusal(h, plain, 415, "malformed_request", before);
  });

  it("serves no compatible endpoint for a generic registry", async () => {
    const res = await postJson(h.url, "/r/files-internal/api/v2/token", BODY);
    expect(res.status).toBe(404);
    expect(res.body.reason).toBe("not_found");
  });
});
