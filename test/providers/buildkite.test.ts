import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jtiKey } from "../../src/replay/store.js";
import { type Harness, NPM_AUDIENCE, startHarness } from "../support/harness.js";
import { startIssuer, type TestIssuer } from "../support/issuer.js";
import { buildkiteClaims, IDS } from "../support/provider-claims.js";
import { expectRefused, issuedPayload } from "../support/refusal.js";

let h: Harness;
let bk: TestIssuer;

beforeAll(async () => {
  // Stands for https://agent.buildkite.com, the one issuer all organizations share.
  bk = await startIssuer();
  h = await startHarness({
    configure(config) {
      (config.ci_issuers as Record<string, unknown>).buildkite = {
        url: bk.url,
        provider: "buildkite",
        allow_http: true,
      };
      (config.publishers as unknown[]).push({
        id: "acme-demo-buildkite",
        registry: "npm-internal",
        ci_issuer: "buildkite",
        match: {
          organization_slug: "acme-inc",
          organization_id: IDS.buildkite.org,
          pipeline_id: IDS.buildkite.pipeline,
          build_tag: { glob: "v*" },
          step_key: "publish",
        },
        packages: ["@acme/demo"],
      });
    },
  });
});
afterAll(async () => {
  await h?.close();
  await bk?.stop();
});

const HOUR = 3600;
const token = (overrides?: Record<string, unknown>) =>
  bk.sign(buildkiteClaims(bk.url, NPM_AUDIENCE, overrides));

describe("buildkite", () => {
  it("exchanges a token carrying the opt-in organization and pipeline ids", async () => {
    const res = await h.exchange(await token());
    expect(res.status).toBe(200);
    const payload = await issuedPayload(h, res.body.token as string);
    expect(payload.act).toMatchObject({
      repository: "https://buildkite.com/acme-inc/demo-release",
      organization_id: IDS.buildkite.org,
      pipeline_id: IDS.buildkite.pipeline,
      ref: "refs/tags/v1.2.3",
      run_url: "https://buildkite.com/acme-inc/demo-release/builds/1042",
    });
  });

  it("never trusts the job-chosen sub: the issued subject is rebuilt from the claims", async () => {
    // `--subject-claim pipeline_id` replaces sub with a bare id.
    const res = await h.exchange(await token({ sub: IDS.buildkite.pipeline }));
    expect(res.status).toBe(200);
    const payload = await issuedPayload(h, res.body.token as string);
    expect(payload.sub).toMatch(
      /^ci:buildkite:organization:acme-inc:pipeline:demo-release:ref:refs\/tags\/v1\.2\.3:commit:[0-9a-f]{40}:step:publish$/,
    );
    expect(payload.act.sub).toBe(payload.sub.slice("ci:buildkite:".length));
  });

  it("refuses a token without the opt-in ids when the publisher pins them", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token({ organization_id: undefined, pipeline_id: undefined })),
      403,
      "no_matching_publisher",
    );
  });

  it("refuses another organization reusing the slug, another pipeline, a branch build and another step", async () => {
    for (const overrides of [
      { organization_id: "0184990a-0000-4000-8000-000000000001" },
      { pipeline_id: "0184990a-0000-4000-8000-000000000002" },
      { build_tag: undefined, build_branch: "main" },
      { step_key: "test" },
      { step_key: null },
    ]) {
      await expectRefused(
        h,
        async () => h.exchange(await token(overrides)),
        403,
        "no_matching_publisher",
      );
    }
  });

  it("holds a token minted with --lifetime 24h to max_token_age from iat", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(
      h,
      async () =>
        h.exchange(await token({ iat: now - 20 * 60, nbf: now - 20 * 60, exp: now + 24 * HOUR })),
      401,
      "invalid_claims",
    );
  });

  it("accepts a fresh long-lived token but records its jti only until iat + 24h, not its exp", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = buildkiteClaims(bk.url, NPM_AUDIENCE, { exp: now + 30 * 24 * HOUR });
    const res = await h.exchange(await bk.sign(claims));
    expect(res.status).toBe(200);
    const key = await jtiKey("trustpub:", bk.url, claims.jti);
    const ttl = await h.redis!.client().pttl(key);
    expect(ttl).toBeGreaterThan(23 * HOUR * 1000);
    expect(ttl).toBeLessThanOrEqual((24 * HOUR + 60) * 1000);
  });

  it("refuses a build_number that is not a number", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token({ build_number: "1042" })),
      401,
      "missing_claim",
    );
  });
});

describe("buildkite max_lifetime", () => {
  let strict: Harness;
  beforeAll(async () => {
    strict = await startHarness({
      redis: false,
      configure(config) {
        (config.ci_issuers as Record<string, unknown>).buildkite = {
          url: bk.url,
          provider: "buildkite",
          allow_http: true,
          max_lifetime: "10m",
        };
        (config.publishers as unknown[]).push({
          id: "acme-demo-buildkite",
          registry: "npm-internal",
          ci_issuer: "buildkite",
          match: { organization_id: IDS.buildkite.org, pipeline_id: IDS.buildkite.pipeline },
          packages: ["@acme/demo"],
        });
      },
    });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it("refuses a fresh token whose exp - iat exceeds the issuer's max_lifetime", async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await expectRefused(
      strict,
      async () => strict.exchange(await token({ exp: now + 24 * HOUR })),
      401,
      "invalid_claims",
    );
    expect(res.body.error_description).toContain("lifetime");
    expect((await strict.exchange(await token())).status).toBe(200);
  });
});
