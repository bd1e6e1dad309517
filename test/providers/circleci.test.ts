import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, NPM_AUDIENCE, startHarness } from "../support/harness.js";
import { circleciClaims, IDS } from "../support/provider-claims.js";
import { expectRefused, issuedPayload } from "../support/refusal.js";
import { startTenantIssuer, type TenantIssuer } from "../support/tenant-issuer.js";

const ORG = IDS.circleci.org;
const OTHER_ORG = "b75c1b2a-0332-4392-8111-9e35ce953c83";
const P = "oidc.circleci.com/";

let h: Harness;
let circle: TenantIssuer;

beforeAll(async () => {
  // CircleCI's per-org issuers: https://oidc.circleci.com/org/<org id>.
  circle = await startTenantIssuer({ prefix: "/org/", tenants: [ORG, OTHER_ORG] });
  h = await startHarness({
    configure(config) {
      (config.ci_issuers as Record<string, unknown>).circleci = {
        url: circle.pattern("org_id"),
        provider: "circleci",
        allow_http: true,
      };
      (config.publishers as unknown[]).push({
        id: "acme-demo-circleci",
        registry: "npm-internal",
        ci_issuer: "circleci",
        match: {
          "issuer.org_id": ORG,
          project_id: IDS.circleci.project.toUpperCase(),
          pipeline_definition_id: IDS.circleci.pipelineDefinition,
          vcs_origin: "github.com/acme/demo",
          vcs_ref: { glob: "refs/tags/v*" },
        },
        packages: ["@acme/demo"],
      });
    },
  });
});
afterAll(async () => {
  await h?.close();
  await circle?.stop();
});

const token = (overrides?: Record<string, unknown>, org = ORG) =>
  circle.sign(circleciClaims(circle.url(org), NPM_AUDIENCE, overrides));

describe("circleci", () => {
  it("exchanges a per-org token; the issued act carries the org, project and pipeline definition ids", async () => {
    const res = await h.exchange(await token());
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      publishers: ["acme-demo-circleci"],
      packages: ["@acme/demo"],
    });
    const payload = await issuedPayload(h, res.body.token as string);
    expect(payload.sub).toMatch(/^ci:circleci:org\//);
    expect(payload.act).toMatchObject({
      iss: circle.url(ORG),
      repository: "https://github.com/acme/demo",
      org_id: ORG,
      project_id: IDS.circleci.project,
      pipeline_definition_id: IDS.circleci.pipelineDefinition,
      ref: "refs/tags/v1.2.3",
      run_id: "cd267951-f409-44fc-a0f0-81512f5840b0",
    });
  });

  it("refuses a job re-run with SSH", async () => {
    const res = await expectRefused(
      h,
      async () => h.exchange(await token({ [`${P}ssh-rerun`]: true })),
      403,
      "forbidden_event",
    );
    expect(res.body.error_description).toContain("SSH");
  });

  it('compares ssh-rerun as a boolean: the string "false" is not false', async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token({ [`${P}ssh-rerun`]: "false" })),
      401,
      "missing_claim",
    );
    await expectRefused(
      h,
      async () => h.exchange(await token({ [`${P}ssh-rerun`]: undefined })),
      401,
      "missing_claim",
    );
  });

  it("refuses a token whose org-id claim disagrees with its issuer URL", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token({ [`${P}org-id`]: OTHER_ORG })),
      401,
      "invalid_claims",
    );
  });

  it("refuses another org's token, even with this org's project id", async () => {
    await expectRefused(
      h,
      async () =>
        h.exchange(
          await circle.sign(
            circleciClaims(circle.url(OTHER_ORG), NPM_AUDIENCE, { [`${P}org-id`]: OTHER_ORG }),
          ),
        ),
      403,
      "no_matching_publisher",
    );
  });

  it("refuses a fork build (another vcs-origin) and a custom-webhook build without one", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token({ [`${P}vcs-origin`]: "github.com/mallory/demo" })),
      403,
      "no_matching_publisher",
    );
    await expectRefused(
      h,
      async () =>
        h.exchange(await token({ [`${P}vcs-origin`]: undefined, [`${P}vcs-ref`]: undefined })),
      403,
      "no_matching_publisher",
    );
  });

  it("refuses another project or pipeline definition, and a branch build", async () => {
    for (const overrides of [
      { [`${P}project-id`]: "6b412f67-0000-4000-8000-000000000001" },
      { [`${P}pipeline-definition-id`]: "6b412f67-0000-4000-8000-000000000002" },
      { [`${P}vcs-ref`]: "refs/heads/v1" },
    ]) {
      await expectRefused(
        h,
        async () => h.exchange(await token(overrides)),
        403,
        "no_matching_publisher",
      );
    }
  });

  it("refuses a project id that is not a UUID", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token({ [`${P}project-id`]: "acme/demo" })),
      401,
      "missing_claim",
    );
  });
});
