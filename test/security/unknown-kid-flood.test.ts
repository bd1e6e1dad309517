import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubClaims, gitlabClaims } from "../support/claims.js";
import { unsigned } from "../support/forge.js";
import { type Harness, NPM_AUDIENCE, PYPI_AUDIENCE, startHarness } from "../support/harness.js";
import { pool, tally } from "../support/pool.js";

const COOLDOWN_MS = 30_000;

let h: Harness;
beforeAll(async () => {
  // Limits off: every request must reach the key lookup, which is what is under test.
  h = await startHarness({ configure: (c) => (c.rate_limits = { enabled: false }) });
  expect((await h.exchange(await h.githubToken())).status).toBe(200);
  expect((await h.exchange(await h.gitlabToken())).status).toBe(200);
});
afterAll(async () => h?.close());

/** A token for a configured issuer whose kid no key has; its signature is never looked at. */
function randomKidToken(i: number): string {
  const claims =
    i % 2 === 0
      ? githubClaims(h.github.url, NPM_AUDIENCE)
      : gitlabClaims(h.gitlab.url, PYPI_AUDIENCE);
  const header = { alg: "RS256", typ: "JWT", kid: randomUUID() };
  return unsigned(header, claims, randomBytes(256));
}

async function burst(count: number): Promise<Record<string, number>> {
  const before = await h.storedKeys();
  const answers = await pool(count, 32, async (i) => {
    const res = await h.exchange(randomKidToken(i));
    return `${res.status} ${res.body.reason}${res.body.token === undefined ? "" : " TOKEN"}`;
  });
  expect(await h.storedKeys()).toBe(before);
  return tally(answers);
}

describe("case 38: random unknown kids", () => {
  it("10,000 of them cause at most one key fetch per issuer per cooldown", async () => {
    // Frozen, so "per cooldown" is exact however long the bursts take on a busy machine.
    const frozen = Date.now();
    h.clock.now = () => frozen + h.clock.offsetMs;
    h.github.resetCounts();
    h.gitlab.resetCounts();
    h.clock.offsetMs += COOLDOWN_MS + 1000; // the cooldown since the first fetch has passed

    expect(await burst(10_000)).toEqual({ "401 invalid_signature": 10_000 });
    // One refresh each, shared by every concurrent request (single flight); no discovery again.
    expect([h.github.requests.jwks, h.gitlab.requests.jwks]).toEqual([1, 1]);
    expect([h.github.requests.total, h.gitlab.requests.total]).toEqual([1, 1]);

    // Within the cooldown: no fetch at all.
    h.clock.offsetMs += COOLDOWN_MS / 2;
    expect(await burst(1_000)).toEqual({ "401 invalid_signature": 1_000 });
    expect([h.github.requests.total, h.gitlab.requests.total]).toEqual([1, 1]);

    // The next cooldown: one more each.
    h.clock.offsetMs += COOLDOWN_MS;
    expect(await burst(1_000)).toEqual({ "401 invalid_signature": 1_000 });
    expect([h.github.requests.total, h.gitlab.requests.total]).toEqual([2, 2]);

    // Real tokens were never held up.
    expect((await h.exchange(await h.githubToken())).status).toBe(200);
  }, 180_000);
});
