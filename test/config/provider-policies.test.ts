import { describe, expect, it } from "vitest";
import { type LoadedConfig, loadConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/config/problems.js";

const noFiles = { readText: async () => Promise.reject(new Error("no files here")) };

const ISSUERS: Record<string, { url: string; provider: string }> = {
  github: { url: "https://token.actions.githubusercontent.com", provider: "github" },
  enterprise: {
    url: "https://token.actions.githubusercontent.com/{enterprise}",
    provider: "github",
  },
  gitlab: { url: "https://gitlab.com", provider: "gitlab" },
  circleci: { url: "https://oidc.circleci.com/org/{org_id}", provider: "circleci" },
  circleci_root: { url: "https://oidc.circleci.com", provider: "circleci" },
  circleci_acme: {
    url: "https://oidc.circleci.com/org/a64b0a19-f221-4291-b000-8d24bd842b72",
    provider: "circleci",
  },
  buildkite: { url: "https://agent.buildkite.com", provider: "buildkite" },
  codeberg: { url: "https://codeberg.org/api/actions", provider: "forgejo" },
  bitbucket: {
    url: "https://api.bitbucket.org/2.0/workspaces/{workspace}/pipelines-config/identity/oidc",
    provider: "bitbucket",
  },
  bitbucket_acme: {
    url: "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
    provider: "bitbucket",
  },
  google: { url: "https://accounts.google.com", provider: "google" },
  gitlab_tenants: { url: "https://{tenant}.gitlab.example.com", provider: "gitlab" },
  forgejo_tenants: { url: "https://{tenant}.forge.example.com/api/actions", provider: "forgejo" },
  k8s: { url: "https://kubernetes.default.svc.cluster.local", provider: "kubernetes" },
};

function load(ciIssuer: string, match: Record<string, unknown>): Promise<LoadedConfig> {
  return loadConfig(
    {
      issuer: "https://sts.example.com",
      ci_issuers: ISSUERS,
      registries: {
        npm: {
          flavor: "npm",
          audience: "npm:registry.example",
          token_audience: "https://registry.example",
        },
      },
      publishers: [
        { id: "p", registry: "npm", ci_issuer: ciIssuer, match, packages: ["@acme/demo"] },
      ],
    },
    {},
    noFiles,
  );
}

async function problemsOf(ciIssuer: string, match: Record<string, unknown>): Promise<string[]> {
  try {
    await load(ciIssuer, match);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(String);
    throw err;
  }
  return [];
}

const UUID = "a64b0a19-f221-4291-b000-8d24bd842b72";

describe("tenant pins on shared issuers", () => {
  it.each([
    ["buildkite", { pipeline_slug: "release" }],
    ["buildkite", { organization_slug: { glob: "acme-*" } }],
    ["google", { email_verified: true }],
    ["circleci", { vcs_origin: "github.com/acme/demo" }],
    ["circleci_root", { vcs_ref: "refs/heads/main" }],
    ["codeberg", { workflow: "release.yml", ref: "refs/heads/main" }],
    ["bitbucket", { branch_name: "main" }],
    ["k8s", { pod: { glob: "publisher-*" } }],
  ])("refuses a %s publisher that pins no tenant: %j", async (issuer, match) => {
    const problems = await problemsOf(issuer, match);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^publishers\[0\]\.match: pins no \w+ tenant/);
  });

  it.each([
    ["circleci_acme", { project_id: UUID }],
    ["circleci", { "issuer.org_id": UUID }],
    ["circleci", { "/oidc.circleci.com~1org-id": UUID }],
    ["bitbucket_acme", { branch_name: "main" }],
    ["bitbucket", { "issuer.workspace": "acme", repository_uuid: UUID }],
    ["buildkite", { organization_id: UUID }],
    ["google", { email: "release@acme.iam.gserviceaccount.com" }],
    ["k8s", { namespace: "release" }],
    ["codeberg", { repository_id: "123" }],
  ])("accepts a %s publisher pinned by %j", async (issuer, match) => {
    expect(await problemsOf(issuer, match)).toEqual([]);
  });
});

describe("pattern issuers naming separate instances", () => {
  it.each([
    ["gitlab_tenants", { project_id: "42" }],
    ["forgejo_tenants", { repository_id: "42", repository_owner_id: "7" }],
  ])("refuses a %s publisher that does not pin the instance: %j", async (issuer, match) => {
    const problems = await problemsOf(issuer, match);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(/pins no issuer\.\w+|pins no \w+ tenant/);
  });

  it.each([
    ["gitlab_tenants", { "issuer.tenant": "acme", project_id: "42" }],
    ["forgejo_tenants", { "issuer.tenant": "acme", repository_id: "42" }],
    // Bound to the token's enterprise claim, and repository ids are unique across github.com.
    ["enterprise", { repository_id: "42" }],
  ])("accepts a %s publisher pinned by %j", async (issuer, match) => {
    expect(await problemsOf(issuer, match)).toEqual([]);
  });
});

describe("immutable-id warnings", () => {
  it.each([
    ["github", { repository: "acme/demo" }],
    ["enterprise", { repository: "acme/demo", "issuer.enterprise": "acme" }],
    ["gitlab", { project_path: "acme/demo" }],
    ["circleci_acme", { vcs_origin: "github.com/acme/demo" }],
    ["buildkite", { organization_slug: "acme-inc", pipeline_slug: "release" }],
    ["codeberg", { repository: "acme/demo" }],
    ["bitbucket", { "issuer.workspace": "acme" }],
    ["google", { email: "release@acme.iam.gserviceaccount.com" }],
    ["k8s", { namespace: "release", service_account: "publisher" }],
    ["github", { repository: "acme/demo", repository_id: { glob: "*" } }],
  ])("warns for a %s publisher pinning no immutable id: %j", async (issuer, match) => {
    const loaded = await load(issuer, match);
    expect(loaded.warnings).toHaveLength(1);
    expect(loaded.warnings[0]).toMatch(/pins no immutable id/);
  });

  it.each([
    ["github", { repository_owner_id: "1234567" }],
    ["circleci", { "issuer.org_id": UUID }],
    ["circleci_root", { "/oidc.circleci.com~1project-id": UUID }],
    ["buildkite", { organization_id: UUID }],
    ["codeberg", { repository_owner_id: { one_of: ["1", "2"] } }],
    ["bitbucket_acme", { workspace_uuid: `{${UUID}}` }],
    ["google", { sub: "113556372818230004112" }],
    ["k8s", { service_account_uid: UUID }],
  ])("does not warn for a %s publisher pinning %j", async (issuer, match) => {
    expect((await load(issuer, match)).warnings).toEqual([]);
  });
});

describe("match keys", () => {
  it("refuses matching Buildkite's job-chosen sub", async () => {
    const problems = await problemsOf("buildkite", {
      organization_id: UUID,
      "/sub": { glob: "organization:acme:*" },
    });
    expect(problems).toEqual([
      expect.stringMatching(
        /^publishers\[0\]\.match\["\/sub"\]: the Buildkite job chooses its sub/,
      ),
    ]);
  });

  it("offers issuer.<segment> only for the ci_issuer's own pattern segment", async () => {
    expect(await problemsOf("github", { repository_id: "1", "issuer.enterprise": "acme" })).toEqual(
      [
        expect.stringMatching(
          /match\.issuer\.enterprise: issuer\.\* keys need a ci_issuer whose url is a pattern/,
        ),
      ],
    );
    expect(await problemsOf("circleci", { "issuer.org": UUID })).toEqual([
      expect.stringMatching(
        /match\.issuer\.org: the ci_issuer's pattern names its segment issuer\.org_id/,
      ),
    ]);
  });

  it("reports a misplaced pattern segment with its path, and never fetches", async () => {
    const problems = await (async () => {
      try {
        await loadConfig(
          {
            issuer: "https://sts.example.com",
            ci_issuers: { ghes: { url: "https://{host}/_services/token", provider: "github" } },
            registries: {},
          },
          {},
          noFiles,
        );
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    })();
    expect(problems).toEqual([
      expect.stringMatching(/^ci_issuers\.ghes\.url: the \{name\} segment in a host needs/),
    ]);
  });
});
