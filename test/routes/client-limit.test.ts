import { describe, expect, it } from "vitest";
import { isExchangeRequest } from "../../src/routes/client-limit.js";

describe("which requests the per-client limit applies to", () => {
  it("covers every exchange endpoint, wherever a registry is mounted", () => {
    for (const path of [
      "/v1/exchange",
      "/token",
      "/-/npm/v1/oidc/token/exchange/package/@acme%2fdemo",
      "/r/npm/-/npm/v1/oidc/token/exchange/package/left-pad",
      "/_/oidc/mint-token",
      "/r/pypi/_/oidc/mint-token",
      "/api/v1/trusted_publishing/tokens",
      "/api/v1/oidc/trusted_publisher/exchange_token",
      "/r/nuget/api/v2/token",
    ]) {
      expect(isExchangeRequest("POST", path), path).toBe(true);
    }
  });

  it("leaves reads, revocation and operations alone", () => {
    expect(isExchangeRequest("GET", "/v1/exchange")).toBe(false);
    expect(isExchangeRequest("DELETE", "/api/v1/trusted_publishing/tokens")).toBe(false);
    for (const path of [
      "/healthz",
      "/readyz",
      "/.well-known/jwks.json",
      "/v1/introspect",
      "/v1/exchange/x",
      "/tokens",
    ]) {
      expect(isExchangeRequest("POST", path), path).toBe(false);
    }
  });
});
