import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, type HttpAnswer, startHarness } from "../support/harness.js";

/**
 * Security case 45: trustpub's clock and the issuer's disagree. Time claims
 * are checked with the configured skew (30 s by default, at most 5 m): a
 * token within it is accepted, beyond it refused as invalid_claims.
 */

const TWO_MINUTES_MS = 120_000;
const nowSeconds = () => Math.floor(Date.now() / 1000);

async function expectInvalidClaims(h: Harness, res: HttpAnswer, stored: number): Promise<void> {
  expect(res.status).toBe(401);
  expect(res.body.reason).toBe("invalid_claims");
  expect(res.body.token).toBeUndefined();
  expect(await h.storedKeys()).toBe(stored);
}

function expectIssued(res: HttpAnswer): void {
  expect(res.status).toBe(200);
  expect(typeof res.body.token).toBe("string");
}

describe("case 45: trustpub's clock two minutes ahead, default 30 s skew", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    h.clock.offsetMs = TWO_MINUTES_MS;
  });
  afterAll(async () => {
    await h?.close();
  });

  it("accepts a fresh token: it only looks two minutes old", async () => {
    expectIssued(await h.exchange(await h.githubToken()));
  });

  it("refuses exp = now + 80 s (real time): expired 40 s ago on trustpub's clock, beyond the skew", async () => {
    const stored = await h.storedKeys();
    const res = await h.exchange(await h.githubToken({ exp: nowSeconds() + 80 }));
    await expectInvalidClaims(h, res, stored);
    expect(res.body.error_description).toMatch(/expired/);
  });

  it("accepts exp = now + 100 s (real time): expired 20 s ago, within the skew", async () => {
    expectIssued(await h.exchange(await h.githubToken({ exp: nowSeconds() + 100 })));
  });

  it("refuses a token whose exp passed long ago on either clock", async () => {
    const stored = await h.storedKeys();
    const now = nowSeconds();
    const res = await h.exchange(
      await h.githubToken({ iat: now - 400, nbf: now - 400, exp: now - 100 }),
    );
    await expectInvalidClaims(h, res, stored);
  });
});

describe("case 45: trustpub's clock two minutes ahead, skew configured to 5m", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      configure: (config) => {
        config.defaults = { clock_skew: "5m" };
      },
    });
    h.clock.offsetMs = TWO_MINUTES_MS;
  });
  afterAll(async () => {
    await h?.close();
  });

  it("accepts the token refused under the default skew", async () => {
    expectIssued(await h.exchange(await h.githubToken({ exp: nowSeconds() + 80 })));
  });

  it("accepts exp = now + 100 s (real time)", async () => {
    expectIssued(await h.exchange(await h.githubToken({ exp: nowSeconds() + 100 })));
  });

  it("still refuses a token expired beyond the 5 minutes", async () => {
    const stored = await h.storedKeys();
    // exp = real now - 200 s: 320 s in the past on trustpub's clock.
    const now = nowSeconds();
    const res = await h.exchange(
      await h.githubToken({ iat: now - 500, nbf: now - 500, exp: now - 200 }),
    );
    await expectInvalidClaims(h, res, stored);
  });
});

describe("case 45: iat and nbf in the future (trustpub's clock behind)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("accepts iat and nbf 20 s in the future, within the skew", async () => {
    const now = nowSeconds();
    expectIssued(await h.exchange(await h.githubToken({ iat: now + 20, nbf: now + 20 })));
  });

  it("accepts a fresh token when trustpub's clock is 20 s behind", async () => {
    h.clock.offsetMs = -20_000;
    try {
      expectIssued(await h.exchange(await h.githubToken()));
    } finally {
      h.clock.offsetMs = 0;
    }
  });

  it("refuses iat 60 s in the future, beyond the skew", async () => {
    const stored = await h.storedKeys();
    const now = nowSeconds();
    const res = await h.exchange(await h.githubToken({ iat: now + 60, nbf: now }));
    await expectInvalidClaims(h, res, stored);
    expect(res.body.error_description).toMatch(/iat/);
  });

  it("refuses nbf 60 s in the future, beyond the skew", async () => {
    const stored = await h.storedKeys();
    const res = await h.exchange(await h.githubToken({ nbf: nowSeconds() + 60 }));
    await expectInvalidClaims(h, res, stored);
    expect(res.body.error_description).toMatch(/nbf/);
  });

  it("refuses a fresh token when trustpub's clock is two minutes behind", async () => {
    h.clock.offsetMs = -TWO_MINUTES_MS;
    try {
      const stored = await h.storedKeys();
      await expectInvalidClaims(h, await h.exchange(await h.githubToken()), stored);
    } finally {
      h.clock.offsetMs = 0;
    }
  });
});
