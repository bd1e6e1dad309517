import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubClaims } from "../support/claims.js";
import { type Harness, type HttpAnswer, NPM_AUDIENCE, startHarness } from "../support/harness.js";

/**
 * Security case 43 (and 38 in small): the issuer rotates its keys. A new
 * `kid` costs one JWKS fetch, then verifies; a removed `kid` is refused once
 * the keys were refreshed; unknown `kid`s refresh at most once per cooldown
 * (30 s by default) per issuer, whoever sends them.
 */

const COOLDOWN_MS = 30_000;

function expectRefused(res: HttpAnswer, reason: string): void {
  expect(res.status).toBe(401);
  expect(res.body.reason).toBe(reason);
  expect(res.body.token).toBeUndefined();
  expect(res.text).not.toContain('"token"');
}

describe("case 43 with the default 30 s cooldown", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Moves trustpub's clock on; CI tokens are then built on that clock too. */
  const advance = (ms: number) => {
    h.clock.offsetMs += ms;
  };
  const tokenWithKid = (kid: string) => {
    const now = Math.floor(h.clock.now() / 1000);
    return h.github.sign(
      githubClaims(h.github.url, NPM_AUDIENCE, { iat: now, nbf: now, exp: now + 300 }),
      { kid },
    );
  };

  it("fetches the keys once at first use", async () => {
    h.github.resetCounts();
    expect((await h.exchange(await h.githubToken())).status).toBe(200);
    expect((await h.exchange(await h.githubToken())).status).toBe(200);
    expect(h.github.requests.discovery).toBe(1);
    expect(h.github.requests.jwks).toBe(1);
  });

  it("refreshes once for a new kid at the issuer, then verifies with it", async () => {
    advance(COOLDOWN_MS + 1_000);
    const added = await h.github.addKey();
    h.github.resetCounts();

    const res = await h.exchange(await tokenWithKid(added.kid));
    expect(res.status).toBe(200);
    expect(typeof res.body.token).toBe("string");
    expect(h.github.requests.jwks).toBe(1);
    expect(h.github.requests.discovery).toBe(0);

    // Known now: further tokens with it need no fetch, nor do tokens with the old kid.
    expect((await h.exchange(await tokenWithKid(added.kid))).status).toBe(200);
    expect((await h.exchange(await h.githubToken())).status).toBe(200);
    expect(h.github.requests.jwks).toBe(1);
  });

  it("refuses a removed kid as invalid_signature once the keys were refreshed", async () => {
    const removed = h.github.keys().at(-1)!;
    expect(removed.kid).not.toBe(h.github.key.kid);
    h.github.removeKey(removed.kid);

    // Past the cooldown, an unknown kid triggers the refresh that drops the removed key.
    advance(COOLDOWN_MS + 1_000);
    h.github.resetCounts();
    const stored = await h.storedKeys();
    expectRefused(
      await h.exchange(await tokenWithKid(`unknown-${randomUUID()}`)),
      "invalid_signature",
    );
    expect(h.github.requests.jwks).toBe(1);

    const res = await h.exchange(await tokenWithKid(removed.kid));
    expectRefused(res, "invalid_signature");
    expect(h.github.requests.jwks).toBe(1);
    expect(await h.storedKeys()).toBe(stored);

    // The key still published keeps working.
    expect((await h.exchange(await h.githubToken())).status).toBe(200);
  });

  it("fetches nothing for a burst of 20 unknown kids within the cooldown", async () => {
    h.github.resetCounts();
    const stored = await h.storedKeys();
    const tokens = await Promise.all(
      Array.from({ length: 20 }, () => tokenWithKid(`random-${randomUUID()}`)),
    );
    const answers = await Promise.all(tokens.map((t) => h.exchange(t)));
    for (const res of answers) expectRefused(res, "invalid_signature");
    expect(h.github.requests.total).toBe(0);
    expect(await h.storedKeys()).toBe(stored);
  });

  it("lets a burst of unknown kids after the cooldown share a single fetch", async () => {
    advance(COOLDOWN_MS + 1_000);
    h.github.resetCounts();
    const stored = await h.storedKeys();
    const tokens = await Promise.all(
      Array.from({ length: 20 }, () => tokenWithKid(`random-${randomUUID()}`)),
    );
    const answers = await Promise.all(tokens.map((t) => h.exchange(t)));
    for (const res of answers) expectRefused(res, "invalid_signature");
    expect(h.github.requests.jwks).toBe(1);
    expect(h.github.requests.total).toBe(1);
    expect(await h.storedKeys()).toBe(stored);
  });

  it("fetches per issuer: the other issuer's cooldown is its own", async () => {
    h.gitlab.resetCounts();
    h.github.resetCounts();
    expect((await h.exchange(await h.gitlabToken())).status).toBe(200);
    expect(h.gitlab.requests.jwks).toBe(1);
    expect(h.github.requests.total).toBe(0);
  });
});

describe("case 43 with a short cooldown, in real time", () => {
  let h: Harness;
  const cooldownMs = 3_000;
  beforeAll(async () => {
    h = await startHarness({
      keyTiming: {
        cooldownMs,
        refreshAfterMs: 10 * 60_000,
        maxStaleMs: 24 * 3_600_000,
        initialRetryMs: 1_000,
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("picks up a rotated key after the cooldown, with one fetch", async () => {
    expect((await h.exchange(await h.githubToken())).status).toBe(200);
    const next = await h.github.addKey();
    const previous = h.github.key.kid;

    // Within the cooldown the new kid is not fetched yet.
    h.github.resetCounts();
    const early = await h.exchange(
      await h.github.sign(githubClaims(h.github.url, NPM_AUDIENCE), { kid: next.kid }),
    );
    expectRefused(early, "invalid_signature");
    expect(h.github.requests.total).toBe(0);

    await new Promise((r) => setTimeout(r, cooldownMs + 200));
    h.github.removeKey(previous);
    const res = await h.exchange(
      await h.github.sign(githubClaims(h.github.url, NPM_AUDIENCE), { kid: next.kid }),
    );
    expect(res.status).toBe(200);
    expect(h.github.requests.jwks).toBe(1);

    // The retired key went with that refresh.
    expectRefused(
      await h.exchange(
        await h.github.sign(githubClaims(h.github.url, NPM_AUDIENCE), { kid: previous }),
      ),
      "invalid_signature",
    );
    expect(h.github.requests.jwks).toBe(1);
  });
});
