import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIssuerDirectory, MAX_ISSUERS_PER_PATTERN } from "../../src/issuers/directory.js";
import { memoryLogger } from "../../src/telemetry/logger.js";
import { type Canary, startCanary } from "../support/canary.js";
import { type Harness, NPM_AUDIENCE, startHarness } from "../support/harness.js";
import { circleciClaims, IDS } from "../support/provider-claims.js";
import { expectRefused } from "../support/refusal.js";
import { startTenantIssuer, type TenantIssuer } from "../support/tenant-issuer.js";

const ORG = IDS.circleci.org;

let h: Harness;
let circle: TenantIssuer;
let canary: Canary;

beforeAll(async () => {
  canary = await startCanary();
  circle = await startTenantIssuer({ prefix: "/org/", tenants: [ORG] });
  h = await startHarness({
    configure(config) {
      (config.ci_issuers as Record<string, unknown>).circleci = {
        url: circle.pattern("org_id"),
        provider: "circleci",
        allow_http: true,
      };
      (config.publishers as unknown[]).push({
        id: "acme-circleci",
        registry: "npm-internal",
        ci_issuer: "circleci",
        match: { "issuer.org_id": ORG, project_id: IDS.circleci.project },
        packages: ["@acme/demo"],
      });
    },
  });
});
afterAll(async () => {
  await h?.close();
  await circle?.stop();
  await canary?.stop();
});

const claimsFor = (iss: string) =>
  circleciClaims(iss, NPM_AUDIENCE, { "oidc.circleci.com/org-id": ORG });

describe("pattern issuers over HTTP", () => {
  it("exchanges a token of the configured org", async () => {
    expect((await h.exchange(await circle.sign(claimsFor(circle.url(ORG))))).status).toBe(200);
  });

  it("refuses stretched issuers before any network I/O", async () => {
    const o = circle.origin;
    const attacks = [
      `${canary.url}?issuer=${circle.url(ORG)}`,
      `http://localhost:${new URL(canary.url).port}?issuer=${circle.url(ORG)}`,
      `${circle.url(ORG)}?issuer=${canary.url}`,
      `${o}/org/x/../../evil`,
      `${o}/org/x%2f..%2f..%2fevil`,
      `${o}/org/x@127.0.0.1:${new URL(canary.url).port}`,
      `http://127.0.0.1:${new URL(canary.url).port}@${o.slice("http://".length)}/org/${ORG}`,
      `${o}/org/${"a".repeat(129)}`,
      `${circle.url(ORG)}/`,
      `${circle.url(ORG)}#`,
      `${o}/org/`,
      `${o.replace("127.0.0.1", "localhost")}/org/${ORG}`,
    ];
    const before = circle.paths.length;
    for (const iss of attacks) {
      await expectRefused(
        h,
        async () => h.exchange(await circle.sign(claimsFor(iss))),
        401,
        "untrusted_issuer",
      );
    }
    expect(circle.paths.length).toBe(before);
    expect(canary.connections()).toBe(0);
  });

  it("keeps serving a known org while a flood of invented org ids is throttled", async () => {
    const before = circle.paths.length;
    const statuses = new Map<number, number>();
    for (let i = 0; i < 120; i++) {
      const res = await h.exchange(await circle.sign(claimsFor(circle.url(randomUUID()))));
      expect(res.body.token).toBeUndefined();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    // At most one discovery per admitted invented org; the rest are refused without I/O.
    const fetched = circle.paths.slice(before);
    expect(fetched.length).toBeLessThanOrEqual(30);
    expect(fetched.every((p) => p.endsWith("/.well-known/openid-configuration"))).toBe(true);
    expect(statuses.get(429)).toBeGreaterThanOrEqual(90);
    const res = await h.exchange(await circle.sign(claimsFor(circle.url(ORG))));
    expect(res.status).toBe(200);
    expect(circle.paths.length).toBe(before + fetched.length);
  });
});

describe("pattern issuer caches", () => {
  it("stay bounded per pattern and keep issuers in use through a flood", async () => {
    let now = 0;
    const directory = buildIssuerDirectory(
      {
        circleci: {
          url: circle.pattern("org_id"),
          provider: "circleci",
          allow_http: true,
          algorithms: ["RS256"],
          require_jti: true,
          allow_events: [],
          max_lifetime: 0,
        },
      },
      {},
      {
        fetch: (input, init) => fetch(input, init),
        clock: { now: () => now },
        logger: memoryLogger(),
      },
    );
    const known = directory.lookup(circle.url(ORG))!;
    const header = { alg: "RS256", kid: circle.publicJwk.kid };
    await known.keys.resolve(header);
    expect(known.keys.hasKeys()).toBe(true);

    const paths = circle.paths.length;
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      if (i % 30 === 0) now += 60_000; // a new throttle window
      try {
        directory.lookup(circle.url(`invented-${i}`));
      } catch {
        refused++;
      }
      if (i % 100 === 0) expect(directory.lookup(circle.url(ORG))).toBe(known);
    }
    expect(refused).toBe(0);
    expect(directory.resolved().length).toBeLessThanOrEqual(MAX_ISSUERS_PER_PATTERN);
    expect(directory.lookup(circle.url(ORG))).toBe(known);
    // Lookups never fetch: only resolving keys does.
    expect(circle.paths.length).toBe(paths);
  });
});
