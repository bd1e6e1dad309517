import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, NPM_AUDIENCE, startHarness } from "../support/harness.js";
import { startIssuer, type TestIssuer } from "../support/issuer.js";
import { forgejoClaims, IDS } from "../support/provider-claims.js";
import { expectRefused, issuedPayload } from "../support/refusal.js";

let h: Harness;
let forge: TestIssuer;

beforeAll(async () => {
  // Stands for https://codeberg.org/api/actions (or any <instance>/api/actions).
  forge = await startIssuer({ path: "/api/actions" });
  h = await startHarness({
    configure(config) {
      (config.ci_issuers as Record<string, unknown>).codeberg = {
        url: forge.url,
        provider: "forgejo",
        allow_http: true,
      };
      (config.publishers as unknown[]).push({
        id: "acme-demo-codeberg",
        registry: "npm-internal",
        ci_issuer: "codeberg",
        match: {
          repository: "Acme/Demo",
          repository_id: IDS.forgejo.repository,
          repository_owner_id: IDS.forgejo.owner,
          workflow: "release.yml",
          ref: { glob: "refs/tags/v*" },
        },
        packages: ["@acme/demo"],
      });
    },
  });
});
afterAll(async () => {
  await h?.close();
  await forge?.stop();
});

const token = (overrides?: Record<string, unknown>) =>
  forge.sign(forgejoClaims(forge.url, NPM_AUDIENCE, overrides));

describe("forgejo", () => {
  it("exchanges a tag build's token; act links the repository and run on the instance", async () => {
    const res = await h.exchange(await token());
    expect(res.status).toBe(200);
    const payload = await issuedPayload(h, res.body.token as string);
    const server = forge.url.slice(0, -"/api/actions".length);
    expect(payload.act).toMatchObject({
      repository: `${server}/acme/demo`,
      repository_id: IDS.forgejo.repository,
      repository_owner_id: IDS.forgejo.owner,
      workflow: "acme/demo/.forgejo/workflows/release.yml@refs/tags/v1.2.3",
      run_url: `${server}/acme/demo/actions/runs/42`,
    });
  });

  it("accepts numeric ids and a workflow under .github/workflows", async () => {
    const res = await h.exchange(
      await token({
        repository_id: Number(IDS.forgejo.repository),
        workflow_ref: "acme/demo/.github/workflows/release.yml@refs/tags/v1.2.3",
      }),
    );
    expect(res.status).toBe(200);
  });

  it("refuses pull_request_target and workflow_run by default", async () => {
    for (const event of ["pull_request_target", "workflow_run"]) {
      await expectRefused(
        h,
        async () => h.exchange(await token({ event_name: event })),
        403,
        "forbidden_event",
      );
    }
  });

  it("refuses a re-created repository under the same name (another repository_id)", async () => {
    await expectRefused(
      h,
      async () =>
        h.exchange(
          await token({ repository_id: "99999", sub: "repo:acme/demo:ref:refs/tags/v1.2.3" }),
        ),
      403,
      "no_matching_publisher",
    );
  });

  it("refuses a token from an instance too old to send immutable ids when the publisher pins them", async () => {
    await expectRefused(
      h,
      async () =>
        h.exchange(await token({ repository_id: undefined, repository_owner_id: undefined })),
      403,
      "no_matching_publisher",
    );
  });

  it("refuses another workflow file, one from another repository, and a branch", async () => {
    for (const overrides of [
      { workflow_ref: "acme/demo/.forgejo/workflows/evil-release.yml@refs/tags/v1.2.3" },
      { workflow_ref: "mallory/demo/.forgejo/workflows/release.yml@refs/tags/v1.2.3" },
      { workflow_ref: "acme/demo/.forgejo/workflows/ci.yml@refs/tags/release.yml" },
      { workflow_ref: undefined },
      { ref: "refs/heads/v1" },
    ]) {
      await expectRefused(
        h,
        async () => h.exchange(await token(overrides)),
        403,
        "no_matching_publisher",
      );
    }
  });

  it("refuses a repository sent as an array", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token({ repository: ["acme/demo"] })),
      401,
      "missing_claim",
    );
  });
});
