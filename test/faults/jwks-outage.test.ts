import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, type HttpAnswer, startHarness } from "../support/harness.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

/** A GitHub token that is fresh by trustpub's (shifted) clock. */
function freshToken(): Promise<string> {
  const now = Math.floor(h.clock.now() / 1000);
  return h.githubToken({ iat: now, nbf: now, exp: now + 300 });
}

async function expectUnavailable(send: () => Promise<HttpAnswer>): Promise<void> {
  const before = await h.storedKeys();
  const res = await send();
  expect(res.status).toBe(503);
  expect(res.body.reason).toBe("unavailable");
  expect(res.body.token).toBeUndefined();
  expect(await h.storedKeys()).toBe(before);
}

describe("case 41: the issuer's JWKS endpoint goes down", () => {
  it("serves cached keys while they are within the staleness bound, 503 past it, and recovers", async () => {
    expect((await h.exchange(await freshToken())).status).toBe(200);
    h.github.setDown(true);
    h.github.resetCounts();

    // Past the refresh age: a background refresh fails, the cached keys still verify.
    h.clock.offsetMs += 11 * MINUTE;
    expect((await h.exchange(await freshToken())).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.github.requests.total).toBeGreaterThanOrEqual(1);
    expect(
      h.logs.records.some((r) => r.msg === "issuer key fetch failed; keeping previous keys"),
    ).toBe(true);

    // Still within 24 hours of the last good fetch.
    h.clock.offsetMs += 23 * HOUR;
    expect((await h.exchange(await freshToken())).status).toBe(200);

    // Past the bound: refused, no token.
    h.clock.offsetMs += HOUR;
    await expectUnavailable(async () => h.exchange(await freshToken()));
    // Within the cooldown it does not even try again.
    const attempts = h.github.requests.total;
    await expectUnavailable(async () => h.exchange(await freshToken()));
    expect(h.github.requests.total).toBe(attempts);

    // Back: after the cooldown the keys are fetched again, without a restart.
    h.github.setDown(false);
    h.clock.offsetMs += 31_000;
    expect((await h.exchange(await freshToken())).status).toBe(200);
  });
});
