import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubClaims } from "../support/claims.js";
import { type Harness, NPM_AUDIENCE, startHarness } from "../support/harness.js";
import { expectRefused, issuedPayload } from "../support/refusal.js";
import { startTenantIssuer, type TenantIssuer } from "../support/tenant-issuer.js";

/** The shared release workflow a platform team owns, and the commit its v2 tag points at. */
const SHARED = "acme/release-workflows/.github/workflows/npm-publish.yml";
const SHARED_SHA = "e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0";
const ACME_OWNER_ID = "1234567";

let h: Harness;
let enterprise: TenantIssuer;

beforeAll(async () => {
  // GitHub Enterprise Cloud's per-enterprise issuer: https://token.actions.githubusercontent.com/<slug>.
  enterprise = await startTenantIssuer({ prefix: "/", tenants: ["acme", "other"] });
  h = await startHarness({
    configure(config) {
      (config.ci_issuers as Record<string, unknown>).acme_enterprise = {
        url: enterprise.pattern("enterprise"),
        provider: "github",
        allow_http: true,
      };
      (config.publishers as unknown[]).push(
        {
          // Any repository of the acme org may publish @acme/app-* through the shared workflow at v2.
          id: "acme-shared-release",
          registry: "npm-internal",
          ci_issuer: "github",
          match: {
            repository_owner_id: ACME_OWNER_ID,
            job_workflow: `${SHARED}@refs/tags/v2`,
            ref: { glob: "refs/tags/v*" },
            environment: "release",
          },
          packages: ["@acme/app-*"],
        },
        {
          // The same, pinned to the shared workflow's commit instead of its tag.
          id: "acme-shared-release-by-sha",
          registry: "npm-internal",
          ci_issuer: "github",
          match: {
            repository_id: "555000111",
            job_workflow: { glob: `${SHARED}@*` },
            job_workflow_sha: SHARED_SHA,
          },
          packages: ["@acme/tool"],
        },
        {
          id: "acme-enterprise",
          registry: "npm-internal",
          ci_issuer: "acme_enterprise",
          match: {
            "issuer.enterprise": "acme",
            repository_id: "892394032",
            workflow: "release.yml",
          },
          packages: ["@acme/enterprise"],
        },
      );
    },
  });
});
afterAll(async () => {
  await h?.close();
  await enterprise?.stop();
});

/** A job of `acme/app-web` whose release.yml calls the shared workflow with `uses: ...@<ref>`. */
const callerToken = (overrides: Record<string, unknown> = {}) =>
  h.github.sign(
    githubClaims(h.github.url, NPM_AUDIENCE, {
      repository: "acme/app-web",
      repository_id: "777000222",
      sub: "repo:acme/app-web:environment:release",
      workflow_ref: "acme/app-web/.github/workflows/release.yml@refs/tags/v3.0.0",
      ref: "refs/tags/v3.0.0",
      job_workflow_ref: `${SHARED}@refs/tags/v2`,
      job_workflow_sha: SHARED_SHA,
      ...overrides,
    }),
  );

describe("reusable workflows from another repository", () => {
  it("lets a repository of the org publish through the shared workflow pinned by tag", async () => {
    const res = await h.exchange(await callerToken());
    expect(res.status).toBe(200);
    expect(res.body.publishers).toEqual(["acme-shared-release"]);
    const payload = await issuedPayload(h, res.body.token as string);
    expect(payload.act).toMatchObject({
      repository: "acme/app-web",
      workflow: "acme/app-web/.github/workflows/release.yml@refs/tags/v3.0.0",
      job_workflow: `${SHARED}@refs/tags/v2`,
      job_workflow_sha: SHARED_SHA,
    });
  });

  it("pins by commit: a caller using the workflow by sha matches job_workflow_sha", async () => {
    const res = await h.exchange(
      await callerToken({
        repository: "acme/tool",
        repository_id: "555000111",
        environment: undefined,
        job_workflow_ref: `${SHARED}@${SHARED_SHA}`,
      }),
    );
    expect(res.status).toBe(200);
    expect(res.body.publishers).toEqual(["acme-shared-release-by-sha"]);
  });

  it("refuses the shared workflow at another ref or commit", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await callerToken({ job_workflow_ref: `${SHARED}@refs/heads/main` })),
      403,
      "no_matching_publisher",
    );
    await expectRefused(
      h,
      async () =>
        h.exchange(
          await callerToken({
            repository: "acme/tool",
            repository_id: "555000111",
            environment: undefined,
            job_workflow_ref: `${SHARED}@${SHARED_SHA}`,
            job_workflow_sha: "0000000000000000000000000000000000000000",
          }),
        ),
      403,
      "no_matching_publisher",
    );
  });

  it("refuses a repository outside the org calling the (public) shared workflow", async () => {
    await expectRefused(
      h,
      async () =>
        h.exchange(
          await callerToken({
            repository: "mallory/app-web",
            repository_owner: "mallory",
            repository_owner_id: "6660666",
          }),
        ),
      403,
      "no_matching_publisher",
    );
  });

  it("refuses a look-alike workflow in another repository", async () => {
    await expectRefused(
      h,
      async () =>
        h.exchange(
          await callerToken({
            job_workflow_ref:
              "acme/release-workflows-fork/.github/workflows/npm-publish.yml@refs/tags/v2",
          }),
        ),
      403,
      "no_matching_publisher",
    );
  });

  it("still refuses a foreign reusable workflow for publishers that name none", async () => {
    // The default publisher (acme/demo, release.yml) names no job_workflow.
    await expectRefused(
      h,
      async () =>
        h.exchange(
          await h.githubToken({
            job_workflow_ref: "octo-tools/release/.github/workflows/publish.yml@refs/tags/v1",
          }),
        ),
      403,
      "no_matching_publisher",
    );
  });
});

describe("GitHub enterprise issuer pattern", () => {
  const token = (slug: string, overrides: Record<string, unknown> = {}) =>
    enterprise.sign(
      githubClaims(enterprise.url(slug), NPM_AUDIENCE, {
        enterprise: slug,
        enterprise_id: "4242",
        ...overrides,
      }),
    );

  it("exchanges a token from the enterprise's own issuer", async () => {
    const res = await h.exchange(await token("acme"));
    expect(res.status).toBe(200);
    expect(res.body.publishers).toEqual(["acme-enterprise"]);
  });

  it("refuses an enterprise claim that disagrees with the issuer URL", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token("acme", { enterprise: "other" })),
      401,
      "invalid_claims",
    );
    await expectRefused(
      h,
      async () => h.exchange(await token("acme", { enterprise: undefined })),
      401,
      "invalid_claims",
    );
  });

  it("refuses another enterprise's issuer", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token("other")),
      403,
      "no_matching_publisher",
    );
  });
});
