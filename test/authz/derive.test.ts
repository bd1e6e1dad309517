import { describe, expect, it } from "vitest";
import { presentedToken } from "../../src/authz/credentials.js";
import { deriveOperation } from "../../src/authz/derive.js";
import { originalRequest } from "../../src/authz/original.js";
import { scopeCovers } from "../../src/authz/scope.js";
import { parseOriginalUri } from "../../src/authz/uri.js";
import type { Flavor } from "../../src/policy/packages.js";

type Row = [method: string, uri: string, expected: string];

/** `permission package`, `permission -` (no package) or `refused`. */
function describeOperation(flavor: Flavor, method: string, uri: string): string {
  const op = deriveOperation(flavor, method, uri);
  return op === undefined ? "refused" : `${op.permission} ${op.package ?? "-"}`;
}

const TABLE: Record<Flavor, Row[]> = {
  npm: [
    ["PUT", "/@acme%2fdemo", "publish @acme/demo"],
    ["PUT", "/@acme%2Fdemo", "publish @acme/demo"],
    ["PUT", "/@acme/demo", "publish @acme/demo"],
    ["PUT", "/left-pad", "publish left-pad"],
    ["PUT", "/@acme%2fdemo/-rev/2-abc", "yank @acme/demo"],
    ["DELETE", "/@acme%2fdemo/-rev/2-abc", "yank @acme/demo"],
    ["DELETE", "/@acme%2fdemo/-/demo-1.0.0.tgz/-rev/3-def", "yank @acme/demo"],
    ["PUT", "/-/package/@acme%2fdemo/dist-tags/latest", "publish @acme/demo"],
    ["DELETE", "/-/package/@acme%2fdemo/dist-tags/beta", "publish @acme/demo"],
    ["GET", "/-/package/@acme%2fdemo/dist-tags", "read @acme/demo"],
    ["GET", "/@acme%2fdemo", "read @acme/demo"],
    ["HEAD", "/@acme%2fdemo/1.0.0", "read @acme/demo"],
    ["GET", "/@acme%2fdemo/-/demo-1.0.0.tgz", "read @acme/demo"],
    ["GET", "/-/whoami", "read -"],
    ["PUT", "/-/user/org.couchdb.user:mallory", "refused"],
    ["POST", "/-/v1/login", "refused"],
    ["POST", "/@acme%2fdemo", "refused"],
    ["PUT", "/@acme%2fdemo/1.0.0", "refused"],
    ["PUT", "/.hidden", "refused"],
    ["PUT", "/@acme%2f..", "refused"],
  ],
  pypi: [
    ["POST", "/legacy/", "publish -"],
    ["POST", "/", "publish -"],
    ["GET", "/simple/acme-demo/", "read acme-demo"],
    ["GET", "/pypi/acme-demo/1.0/json", "read acme-demo"],
    ["GET", "/packages/ab/cd/acme_demo-1.0.tar.gz", "read -"],
    ["POST", "/simple/acme-demo/", "refused"],
    ["DELETE", "/legacy/", "refused"],
  ],
  cargo: [
    ["PUT", "/api/v1/crates/new", "publish -"],
    ["DELETE", "/api/v1/crates/acme_demo/1.0.0/yank", "yank acme_demo"],
    ["PUT", "/api/v1/crates/acme_demo/1.0.0/unyank", "yank acme_demo"],
    ["GET", "/api/v1/crates/acme_demo/1.0.0/download", "read acme_demo"],
    ["PUT", "/api/v1/crates/acme_demo/owners", "refused"],
    ["GET", "/api/v1/crates/acme_demo/owners", "read acme_demo"],
    ["POST", "/api/v1/crates/new", "refused"],
    ["GET", "/index/ac/me/acme_demo", "read -"],
  ],
  rubygems: [
    ["POST", "/api/v1/gems", "publish -"],
    ["DELETE", "/api/v1/gems/yank", "yank -"],
    ["DELETE", "/api/v1/gems/yank?gem_name=acme-demo&version=1.0.0", "yank acme-demo"],
    ["GET", "/api/v1/gems/acme-demo.json", "read acme-demo"],
    ["GET", "/info/acme-demo", "read acme-demo"],
    ["GET", "/gems/acme-demo-1.0.0.gem", "read -"],
    ["PUT", "/api/v1/gems", "refused"],
  ],
  nuget: [
    ["PUT", "/api/v2/package", "publish -"],
    ["PUT", "/api/v2/package/", "publish -"],
    ["DELETE", "/api/v2/package/Acme.Demo/1.0.0", "yank Acme.Demo"],
    ["POST", "/api/v2/package/Acme.Demo/1.0.0", "yank Acme.Demo"],
    ["GET", "/v3-flatcontainer/acme.demo/index.json", "read acme.demo"],
    ["GET", "/v3/index.json", "read -"],
    ["POST", "/api/v2/package", "refused"],
  ],
  generic: [
    ["GET", "/anything", "read -"],
    ["PUT", "/anything", "publish -"],
    ["POST", "/anything", "publish -"],
    ["DELETE", "/anything", "yank -"],
    ["OPTIONS", "/anything", "refused"],
  ],
};

describe("deriving the operation from the original method and URI", () => {
  for (const [flavor, rows] of Object.entries(TABLE) as [Flavor, Row[]][]) {
    it(`reads ${flavor} requests`, () => {
      const actual = rows.map(([method, uri]) => [
        method,
        uri,
        describeOperation(flavor, method, uri),
      ]);
      expect(actual).toEqual(rows);
    });
  }

  it("refuses URIs the upstream could read differently", () => {
    for (const uri of [
      "@acme%2fdemo",
      "//evil/@acme%2fdemo",
      "/a/../@acme%2fdemo",
      "/a/%2e%2e/@acme%2fdemo",
      "/./@acme%2fdemo",
      "/a%5cb",
      "/a%0d%0aX: y",
      "/a b",
      "/%zz",
      `/${"a".repeat(9000)}`,
    ]) {
      expect(parseOriginalUri(uri), uri).toBeUndefined();
      expect(deriveOperation("npm", "GET", uri), uri).toBeUndefined();
    }
    expect(deriveOperation("npm", "P UT", "/@acme%2fdemo")).toBeUndefined();
    expect(parseOriginalUri("/simple/x/?a=1#f")).toMatchObject({ segments: ["simple", "x", ""] });
  });
});

describe("the token each client presents", () => {
  const headers = (values: Record<string, string>) => (name: string) => values[name];
  it("reads each ecosystem's place for it", () => {
    expect(presentedToken("npm", headers({ authorization: "Bearer t1" }))).toBe("t1");
    expect(presentedToken("npm", headers({ authorization: "t1" }))).toBeUndefined();
    expect(
      presentedToken("pypi", headers({ authorization: `Basic ${btoa("__token__:t2")}` })),
    ).toBe("t2");
    expect(
      presentedToken("pypi", headers({ authorization: `Basic ${btoa("alice:t2")}` })),
    ).toBeUndefined();
    expect(presentedToken("cargo", headers({ authorization: "t3" }))).toBe("t3");
    expect(presentedToken("rubygems", headers({ authorization: "Bearer t4" }))).toBe("t4");
    expect(presentedToken("nuget", headers({ "x-nuget-apikey": "t5" }))).toBe("t5");
    expect(presentedToken("nuget", headers({ authorization: "Bearer t6" }))).toBe("t6");
    expect(presentedToken("generic", headers({}))).toBeUndefined();
  });
});

describe("scope coverage", () => {
  const scope = "publish:@acme/demo publish:@acme/demo-* read:@acme/docs";
  it("grants publish (and read through it) by the flavor's name rules", () => {
    expect(scopeCovers(scope, "npm", { permission: "publish", package: "@acme/demo-cli" })).toBe(
      true,
    );
    expect(scopeCovers(scope, "npm", { permission: "read", package: "@acme/demo" })).toBe(true);
    expect(scopeCovers(scope, "npm", { permission: "read", package: "@acme/docs" })).toBe(true);
    expect(scopeCovers(scope, "npm", { permission: "publish", package: "@acme/docs" })).toBe(false);
    expect(scopeCovers(scope, "npm", { permission: "yank" })).toBe(false);
    expect(scopeCovers(scope, "npm", { permission: "publish" })).toBe(true);
    expect(
      scopeCovers("publish:Acme_Demo", "pypi", { permission: "publish", package: "acme.demo" }),
    ).toBe(true);
    expect(
      scopeCovers("publish:Acme.Demo", "npm", { permission: "publish", package: "acme.demo" }),
    ).toBe(false);
  });
});

describe("the original request", () => {
  const headers = (values: Record<string, string>) => (name: string) => values[name];
  it("needs every source present to agree", () => {
    expect(originalRequest(headers({}), undefined)).toEqual({ ok: false, why: "missing" });
    expect(originalRequest(headers({ "x-original-uri": "/a" }), undefined)).toEqual({
      ok: false,
      why: "incomplete",
    });
    const nginx = { "x-original-method": "PUT", "x-original-uri": "/a" };
    expect(originalRequest(headers(nginx), undefined)).toEqual({
      ok: true,
      request: { method: "PUT", uri: "/a" },
    });
    expect(originalRequest(headers(nginx), { method: "GET", uri: "/a" })).toEqual({
      ok: false,
      why: "conflict",
    });
    expect(
      originalRequest(headers({ ...nginx, "x-forwarded-method": "PUT", "x-forwarded-uri": "/a" }), {
        method: "PUT",
        uri: "/a",
      }),
    ).toEqual({ ok: true, request: { method: "PUT", uri: "/a" } });
  });
});
