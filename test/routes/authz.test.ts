import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Harness } from "../support/harness.js";
import {
  CARGO_AUDIENCE,
  GENERIC_AUDIENCE,
  NUGET_AUDIENCE,
  RUBYGEMS_AUDIENCE,
  send,
  startFlavorsHarness,
} from "../support/registries.js";

let h: Harness;
let npmToken: string;
beforeAll(async () => {
  h = await startFlavorsHarness();
  npmToken = await issue(await h.githubToken());
});
afterAll(async () => h?.close());

async function issue(ci: string): Promise<string> {
  const res = await h.exchange(ci);
  expect(res.status).toBe(200);
  return res.body.token as string;
}

/** nginx auth_request: a GET carrying X-Original-Method/URI and the client's own headers. */
const nginx = (registry: string, method: string, uri: string, headers: Record<string, string>) =>
  send(h.url, `/v1/authz/${registry}`, {
    headers: { "x-original-method": method, "x-original-uri": uri, ...headers },
  });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A request whose target is sent as written (fetch would resolve its dot segments). */
function rawRequest(method: string, target: string, headers: Record<string, string>) {
  return new Promise<{ status: number }>((resolve, reject) => {
    const url = new URL(h.url);
    const req = request(
      { host: url.hostname, port: url.port, method, path: target, headers },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("forward auth for npm", () => {
  it("allows a publish of a granted package and hands the upstream the verified facts", async () => {
    const res = await nginx("npm-internal", "PUT", "/@acme%2fdemo", bearer(npmToken));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ allowed: true, permission: "publish", package: "@acme/demo" });
    const header = (name: string) => res.headers.get(name);
    expect(header("x-trustpub-subject")).toBe("ci:github:repo:acme/demo:environment:release");
    expect(header("x-trustpub-packages")).toBe("@acme/demo,@acme/demo-*");
    expect(header("x-trustpub-permissions")).toBe("publish");
    expect(header("x-trustpub-package")).toBe("@acme/demo");
    expect(header("x-trustpub-permission")).toBe("publish");
    expect(header("x-trustpub-publishers")).toBe("acme-demo-release");
    expect(header("x-trustpub-source-repository")).toBe("acme/demo");
    expect(header("x-trustpub-source-ref")).toBe("refs/tags/v1.2.3");
    expect(header("x-trustpub-source-sha")).toMatch(/^[0-9a-f]{40}$/);
    expect(header("x-trustpub-workflow")).toBe(
      "acme/demo/.github/workflows/release.yml@refs/tags/v1.2.3",
    );
    expect(header("cache-control")).toBe("no-store");
  });

  it("reads the original request from nginx, Traefik or Envoy alike", async () => {
    const traefik = await send(h.url, "/v1/authz/npm-internal", {
      headers: {
        "x-forwarded-method": "PUT",
        "x-forwarded-uri": "/@acme%2fdemo-cli",
        ...bearer(npmToken),
      },
    });
    expect(traefik.status).toBe(200);
    expect(traefik.headers.get("x-trustpub-package")).toBe("@acme/demo-cli");

    const envoy = await send(h.url, "/v1/authz/npm-internal/@acme%2fdemo?write=true", {
      method: "PUT",
      headers: bearer(npmToken),
    });
    expect(envoy.status).toBe(200);
    expect(envoy.body.permission).toBe("publish");

    const query = await send(h.url, "/v1/authz?registry=npm-internal", {
      headers: {
        "x-original-method": "GET",
        "x-original-uri": "/@acme%2fdemo",
        ...bearer(npmToken),
      },
    });
    expect(query.status).toBe(200);
    expect(query.body.permission).toBe("read");
  });

  it("answers 403 for a package, a permission or a request outside the token", async () => {
    const cases: [string, string][] = [
      ["PUT", "/@acme%2fother"],
      ["PUT", "/@acme/other"],
      ["DELETE", "/@acme%2fdemo/-rev/3-abc"],
      ["PUT", "/-/user/org.couchdb.user:mallory"],
      ["PUT", "/@acme%2fdemo/..%2f..%2f@acme%2fother"],
      ["PUT", "/x/../@acme%2fdemo"],
      ["PUT", "//@acme%2fdemo"],
    ];
    for (const [method, uri] of cases) {
      const res = await nginx("npm-internal", method, uri, bearer(npmToken));
      expect(res.status, `${method} ${uri}`).toBe(403);
      expect(res.body.reason).toBe("scope_exceeded");
      expect(res.headers.get("x-trustpub-subject")).toBeNull();
    }
  });

  it("reads Envoy's original path raw, as the upstream receives it", async () => {
    for (const path of [
      "/x/../@acme%2fdemo",
      "/x/%2e%2e/@acme%2fdemo",
      "/../npm-internal/@acme%2fdemo",
    ]) {
      const res = await rawRequest("PUT", `/v1/authz/npm-internal${path}`, bearer(npmToken));
      expect(res.status, path).toBe(403);
    }
    const ok = await rawRequest("PUT", "/v1/authz/npm-internal/@acme%2fdemo", bearer(npmToken));
    expect(ok.status).toBe(200);
  });

  it("refuses a request whose original is described twice, differently", async () => {
    const res = await send(h.url, "/v1/authz/npm-internal", {
      headers: {
        "x-original-method": "PUT",
        "x-original-uri": "/@acme%2fother",
        "x-forwarded-method": "PUT",
        "x-forwarded-uri": "/@acme%2fdemo",
        ...bearer(npmToken),
      },
    });
    expect(res.status).toBe(403);
    expect(res.body.error_description).toBe("the original request is described twice, differently");
  });

  it("answers 401 with a Bearer challenge for a missing, foreign or CI token", async () => {
    const pypiToken = await issue(await h.gitlabToken());
    for (const headers of [
      {},
      bearer("garbage"),
      bearer(pypiToken),
      bearer(await h.githubToken()),
    ]) {
      const res = await nginx("npm-internal", "PUT", "/@acme%2fdemo", headers);
      expect(res.status).toBe(401);
      expect(res.body.reason).toBe("invalid_token");
      expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    }
  });

  it("answers 400 and 404 for a proxy that is set up wrong", async () => {
    const missing = await send(h.url, "/v1/authz/npm-internal", { headers: bearer(npmToken) });
    expect(missing.status).toBe(400);
    expect(missing.body.reason).toBe("malformed_request");
    const half = await send(h.url, "/v1/authz/npm-internal", {
      headers: { "x-original-uri": "/@acme%2fdemo", ...bearer(npmToken) },
    });
    expect(half.status).toBe(400);
    const unknown = await nginx("nope", "PUT", "/@acme%2fdemo", bearer(npmToken));
    expect(unknown.status).toBe(404);
    expect(unknown.body.reason).toBe("not_found");
  });

  it("percent-encodes CI facts that are not printable ASCII", async () => {
    const token = await issue(await h.githubToken({ ref: "refs/tags/v1-ü" }));
    const res = await nginx("npm-internal", "PUT", "/@acme%2fdemo", bearer(token));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-trustpub-source-ref")).toBe("refs/tags/v1-%C3%BC");
  });
});

describe("forward auth for the other flavors", () => {
  it("reads twine's Basic __token__ and leaves the upload's name to the upstream", async () => {
    const token = await issue(await h.gitlabToken());
    const basic = (user: string) => ({ authorization: `Basic ${btoa(`${user}:${token}`)}` });
    const upload = await nginx("pypi-internal", "POST", "/legacy/", basic("__token__"));
    expect(upload.status).toBe(200);
    expect(upload.body).toEqual({ allowed: true, permission: "publish", package: null });
    expect(upload.headers.get("x-trustpub-package")).toBeNull();
    expect(upload.headers.get("x-trustpub-packages")).toBe("acme-demo");

    const read = await nginx("pypi-internal", "GET", "/simple/Acme_Demo/", basic("__token__"));
    expect(read.status).toBe(200);
    expect(read.body.package).toBe("Acme_Demo");
    expect((await nginx("pypi-internal", "GET", "/simple/other/", basic("__token__"))).status).toBe(
      403,
    );
    expect((await nginx("pypi-internal", "POST", "/legacy/", basic("alice"))).status).toBe(401);
  });

  it("reads cargo's bare Authorization value and compares crate names as crates.io does", async () => {
    const token = await issue(await h.githubToken({ aud: CARGO_AUDIENCE }));
    const auth = { authorization: token };
    expect((await nginx("cargo-internal", "PUT", "/api/v1/crates/new", auth)).status).toBe(200);
    const yank = await nginx(
      "cargo-internal",
      "DELETE",
      "/api/v1/crates/Acme-Demo/1.0.0/yank",
      auth,
    );
    expect(yank.status).toBe(200);
    expect(yank.body).toMatchObject({ permission: "yank", package: "Acme-Demo" });
    expect(
      (await nginx("cargo-internal", "PUT", "/api/v1/crates/acme_demo/owners", auth)).status,
    ).toBe(403);
  });

  it("reads the RubyGems API key from the bare Authorization value", async () => {
    const token = await issue(await h.githubToken({ aud: RUBYGEMS_AUDIENCE }));
    const push = await nginx("gems-internal", "POST", "/api/v1/gems", { authorization: token });
    expect(push.status).toBe(200);
    expect(push.body.permission).toBe("publish");
    const yank = await nginx("gems-internal", "DELETE", "/api/v1/gems/yank?gem_name=acme-demo", {
      authorization: token,
    });
    expect(yank.status).toBe(403);
  });

  it("reads NuGet's X-NuGet-ApiKey and compares ids without case", async () => {
    const token = await issue(await h.githubToken({ aud: NUGET_AUDIENCE }));
    const key = { "x-nuget-apikey": token };
    expect((await nginx("nuget-internal", "PUT", "/api/v2/package", key)).status).toBe(200);
    const read = await nginx(
      "nuget-internal",
      "GET",
      "/v3-flatcontainer/acme.demo.core/index.json",
      key,
    );
    expect(read.status).toBe(200);
    expect(read.body.package).toBe("acme.demo.core");
    expect(
      (await nginx("nuget-internal", "DELETE", "/api/v2/package/Acme.Demo/1.0.0", key)).status,
    ).toBe(403);
  });

  it("decides by method alone for a generic registry", async () => {
    const token = await issue(await h.githubToken({ aud: GENERIC_AUDIENCE }));
    expect((await nginx("files-internal", "GET", "/demo/1.0/demo.tgz", bearer(token))).status).toBe(
      200,
    );
    expect((await nginx("files-internal", "PUT", "/demo/1.0/demo.tgz", bearer(token))).status).toBe(
      403,
    );
  });
});
