import { randomBytes, randomUUID } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FetchFn } from "../../src/issuers/fetch.js";
import { type Canary, startCanary } from "../support/canary.js";
import { githubClaims } from "../support/claims.js";
import { unsigned } from "../support/forge.js";
import { type Harness, NPM_AUDIENCE, startHarness } from "../support/harness.js";
import { pool, tally } from "../support/pool.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

let h: Harness;
let canary: Canary;
const outbound: string[] = [];
const countingFetch: FetchFn = (input, init) => {
  outbound.push(input);
  return fetch(input, init);
};

beforeAll(async () => {
  canary = await startCanary();
  h = await startHarness({
    fetch: countingFetch,
    configure: (c) => (c.rate_limits = { enabled: false }),
  });
});
afterAll(async () => {
  await h?.close();
  await canary?.stop();
});

/** Issuer values an attacker would try: other hosts, metadata addresses, near-misses of configured URLs. */
function randomIss(i: number): string {
  const r = randomUUID();
  const configured = h.github.url;
  const variants = [
    `https://${r}.example`,
    `http://169.254.169.254/latest/meta-data/${r}`,
    `${canary.url}/${r}`,
    `${configured}/${r}`,
    `${configured}.${r}.evil.example`,
    `${configured.toUpperCase()}/`,
    `${configured}/`,
    ` ${configured}`,
    `${configured}\u200b`,
    `${configured}#${r}`,
    randomBytes(64).toString("base64"),
    `https://token.actions.githubusercontent.com.${r}.example`,
  ];
  return variants[i % variants.length]!;
}

async function burst(count: number): Promise<Record<string, number>> {
  const answers = await pool(count, 32, async (i) => {
    const token = unsigned(
      { alg: "RS256", typ: "JWT", kid: h.github.key.kid },
      githubClaims(randomIss(i), NPM_AUDIENCE),
      randomBytes(256),
    );
    const res = await h.exchange(token);
    return `${res.status} ${res.body.reason}${res.body.token === undefined ? "" : " TOKEN"}`;
  });
  return tally(answers);
}

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe("case 39: random iss values", () => {
  it("10,000 of them cause zero outbound requests and leave memory flat", async () => {
    const resolved = h.server.services.directory.resolved().length;
    const stored = await h.storedKeys();
    await burst(500); // warm up code paths before measuring
    h.audit.events.length = 0; // the test's own record of audit events is not trustpub's memory
    const start = heapAfterGc();

    expect(await burst(10_000)).toEqual({ "401 untrusted_issuer": 10_000 });
    h.audit.events.length = 0;
    const afterFirst = heapAfterGc();
    expect(await burst(5_000)).toEqual({ "401 untrusted_issuer": 5_000 });
    h.audit.events.length = 0;
    const afterSecond = heapAfterGc();

    expect(outbound).toEqual([]);
    expect(canary.connections()).toBe(0);
    expect(h.github.requests.total + h.gitlab.requests.total).toBe(0);
    expect(h.server.services.directory.resolved()).toHaveLength(resolved);
    expect(await h.storedKeys()).toBe(stored);
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    console.info(
      `case 39: heap ${mb(start)} MB at start, ${mb(afterFirst)} MB after 10,000, ${mb(afterSecond)} MB after 15,000`,
    );
    // Nothing is kept per request: another 5,000 add nothing measurable.
    expect(afterSecond - afterFirst).toBeLessThan(4 * 1024 * 1024);
    expect(afterFirst - start).toBeLessThan(8 * 1024 * 1024);
  }, 300_000);
});
