import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Canary, startCanary } from "../support/canary.js";
import { type Harness, startHarness } from "../support/harness.js";

let h: Harness;
let canary: Canary;
beforeAll(async () => {
  canary = await startCanary();
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  await canary?.stop();
});

function fresh(): { iat: number; nbf: number; exp: number } {
  const now = Math.floor(h.clock.now() / 1000);
  return { iat: now, nbf: now, exp: now + 300 };
}

describe("case 44: a discovery document that does not fit the configured issuer", () => {
  it("makes that issuer unusable (503), fetching nothing it names, until it is fixed", async () => {
    const url = h.gitlab.url;
    const port = new URL(url).port;
    const wrong: Record<string, Record<string, unknown>> = {
      "another issuer": { issuer: "https://gitlab.evil.example" },
      "the issuer with a trailing slash": { issuer: `${url}/` },
      "the issuer in upper case": { issuer: url.toUpperCase() },
      "no issuer": { issuer: undefined },
      "jwks_uri on another host": { jwks_uri: `${canary.url}/gitlab/jwks` },
      "jwks_uri on another name for the same address": {
        jwks_uri: `http://localhost:${port}/gitlab/jwks`,
      },
      "jwks_uri on a metadata address": { jwks_uri: "http://169.254.169.254/latest/jwks" },
      "jwks_uri that is not a URL": { jwks_uri: "not a url" },
    };
    for (const [name, overrides] of Object.entries(wrong)) {
      h.gitlab.setDiscovery(overrides);
      h.gitlab.resetCounts();
      h.clock.offsetMs += 2_000; // past the retry interval for an issuer with no keys
      const before = await h.storedKeys();
      const res = await h.exchange(await h.gitlabToken(fresh()));
      expect([name, res.status, res.body.reason]).toEqual([name, 503, "unavailable"]);
      expect(res.body.token).toBeUndefined();
      expect(await h.storedKeys()).toBe(before);
      // Only the discovery document was read; the JWKS it names was never fetched.
      expect([name, h.gitlab.requests.discovery, h.gitlab.requests.jwks]).toEqual([name, 1, 0]);
    }
    expect(canary.connections()).toBe(0);
    expect(
      h.logs.records.filter((r) => r.msg === "issuer key fetch failed; keeping previous keys"),
    ).not.toHaveLength(0);

    // Other issuers are unaffected meanwhile.
    expect((await h.exchange(await h.githubToken(fresh()))).status).toBe(200);

    // Fixed: the next attempt after the retry interval succeeds, without a restart.
    h.gitlab.setDiscovery({});
    h.clock.offsetMs += 2_000;
    expect((await h.exchange(await h.gitlabToken(fresh()))).status).toBe(200);
  });
});
