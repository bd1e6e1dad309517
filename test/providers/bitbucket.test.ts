import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, NPM_AUDIENCE, startHarness } from "../support/harness.js";
import { bitbucketClaims, IDS } from "../support/provider-claims.js";
import { expectRefused, issuedPayload } from "../support/refusal.js";
import { startTenantIssuer, type TenantIssuer } from "../support/tenant-issuer.js";

let h: Harness;
let bb: TenantIssuer;
const ID = IDS.bitbucket;

beforeAll(async () => {
  // https://api.bitbucket.org/2.0/workspaces/<workspace>/pipelines-config/identity/oidc
  bb = await startTenantIssuer({
    prefix: "/2.0/workspaces/",
    suffix: "/pipelines-config/identity/oidc",
    tenants: ["acme", "mallory"],
  });
  h = await startHarness({
    configure(config) {
      (config.ci_issuers as Record<string, unknown>).bitbucket = {
        url: bb.pattern("workspace"),
        provider: "bitbucket",
        allow_http: true,
      };
      (config.publishers as unknown[]).push({
        id: "acme-demo-bitbucket",
        registry: "npm-internal",
        ci_issuer: "bitbucket",
        match: {
          "issuer.workspace": "acme",
          // Written without braces and in upper case: both sides are normalised.
          workspace_uuid: ID.workspace.toUpperCase(),
          repository_uuid: `{${ID.repository}}`,
          deployment_environment_uuid: ID.environment,
          branch_name: "main",
        },
        packages: ["@acme/demo"],
      });
    },
  });
});
afterAll(async () => {
  await h?.close();
  await bb?.stop();
});

const token = (overrides?: Record<string, unknown>, workspace = "acme") =>
  bb.sign(bitbucketClaims(bb.url(workspace), NPM_AUDIENCE, overrides));

describe("bitbucket", () => {
  it("exchanges a deployment step's token; act carries the UUIDs without braces", async () => {
    const res = await h.exchange(await token());
    expect(res.status).toBe(200);
    const payload = await issuedPayload(h, res.body.token as string);
    expect(payload.act).toMatchObject({
      iss: bb.url("acme"),
      workspace_uuid: ID.workspace,
      repository_uuid: ID.repository,
      environment_uuid: ID.environment,
      ref: "refs/heads/main",
    });
  });

  it("accepts a one-element aud array and refuses a token for several audiences", async () => {
    expect((await h.exchange(await token({ aud: [NPM_AUDIENCE] }))).status).toBe(200);
    await expectRefused(
      h,
      async () =>
        h.exchange(
          await token({ aud: [NPM_AUDIENCE, `ari:cloud:bitbucket::workspace/${ID.workspace}`] }),
        ),
      401,
      "invalid_claims",
    );
  });

  it("refuses the same UUIDs from another workspace's issuer (a renamed workspace's old slug)", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token({}, "mallory")),
      403,
      "no_matching_publisher",
    );
  });

  it("refuses another repository, another deployment environment, a non-deployment step and another branch", async () => {
    for (const overrides of [
      { repositoryUuid: "{d4e45493-0000-4000-8000-000000000000}" },
      { deploymentEnvironmentUuid: "{6c2f0e8a-0000-4000-8000-000000000000}" },
      { deploymentEnvironmentUuid: undefined, deploymentEnvironment: undefined },
      { branchName: "feature/x" },
    ]) {
      await expectRefused(
        h,
        async () => h.exchange(await token(overrides)),
        403,
        "no_matching_publisher",
      );
    }
  });

  it("refuses a workspaceUuid that is not a UUID", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token({ workspaceUuid: "acme" })),
      401,
      "missing_claim",
    );
  });
});
