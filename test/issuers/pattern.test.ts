import { describe, expect, it } from "vitest";
import { compileIssuerPattern } from "../../src/issuers/pattern.js";

const circle = compileIssuerPattern("https://oidc.circleci.com/org/{org_id}");
const ORG = "a64b0a19-f221-4291-b000-8d24bd842b72";

describe("issuer patterns", () => {
  it("matches one segment and returns its value", () => {
    expect(circle.name).toBe("org_id");
    expect(circle.match(`https://oidc.circleci.com/org/${ORG}`)).toBe(ORG);
  });

  it.each([
    [
      "a query carrying the trusted URL (Fulcio's SSRF)",
      `http://localhost?issuer=https://oidc.circleci.com/org/${ORG}`,
    ],
    [
      "the trusted URL followed by a query",
      `https://oidc.circleci.com/org/${ORG}?issuer=http://localhost`,
    ],
    ["dot segments", "https://oidc.circleci.com/org/x/../../evil"],
    ["a slash in the segment", "https://oidc.circleci.com/org/x/y"],
    ["an escaped slash", "https://oidc.circleci.com/org/x%2fy"],
    ["an escaped dot", "https://oidc.circleci.com/org/%2e%2e"],
    ["credentials", `https://oidc.circleci.com@evil.example/org/${ORG}`],
    ["an @ in the segment", "https://oidc.circleci.com/org/x@evil.example"],
    ["a port", `https://oidc.circleci.com:8443/org/${ORG}`],
    ["a longer host", `https://oidc.circleci.com.evil.example/org/${ORG}`],
    ["an upper-case host", `https://OIDC.circleci.com/org/${ORG}`],
    ["a trailing slash", `https://oidc.circleci.com/org/${ORG}/`],
    ["a fragment", `https://oidc.circleci.com/org/${ORG}#x`],
    ["a trailing newline", `https://oidc.circleci.com/org/${ORG}\n`],
    ["an empty segment", "https://oidc.circleci.com/org/"],
    ["a segment over 128 characters", `https://oidc.circleci.com/org/${"a".repeat(129)}`],
    ["a dot in the segment", "https://oidc.circleci.com/org/a.b"],
    ["a colon in the segment", "https://oidc.circleci.com/org/a:b"],
    ["a full-width letter", "https://oidc.circleci.com/org/ａ"],
    ["http instead of https", `http://oidc.circleci.com/org/${ORG}`],
  ])("does not match %s", (_what, iss) => {
    expect(circle.match(iss)).toBeUndefined();
  });

  it("accepts a segment of exactly 128 characters", () => {
    const long = "a".repeat(128);
    expect(circle.match(`https://oidc.circleci.com/org/${long}`)).toBe(long);
  });

  it("accepts a host-label segment with two fixed labels to its right", () => {
    const semaphore = compileIssuerPattern("https://{org}.semaphoreci.com");
    expect(semaphore.match("https://acme.semaphoreci.com")).toBe("acme");
    expect(semaphore.match("https://evil.example/.semaphoreci.com")).toBeUndefined();
    expect(semaphore.match("https://a.b.semaphoreci.com")).toBeUndefined();
  });

  it.each([
    ["the whole host", "https://{host}/_services/token"],
    ["a host label with one fixed label to its right", "https://{org}.com/oidc"],
    ["part of a host label", "https://oidc-{org}.example.com"],
    ["the port", "https://oidc.example.com:{port}/x"],
    ["credentials", "https://{user}@oidc.example.com/x"],
    ["a query", "https://oidc.example.com/x?org={org}"],
    ["two segments", "https://oidc.example.com/{a}/{b}"],
    ["no segment but a brace", "https://oidc.example.com/}"],
    ["an upper-case segment name", "https://oidc.example.com/{Org}"],
    ["dot segments (non-canonical)", "https://oidc.example.com/a/../{org}"],
    ["an upper-case host (non-canonical)", "https://OIDC.example.com/{org}"],
    ["a default port (non-canonical)", "https://oidc.example.com:443/{org}"],
  ])("refuses a pattern whose segment stands in %s", (_what, pattern) => {
    expect(() => compileIssuerPattern(pattern)).toThrow();
  });
});
