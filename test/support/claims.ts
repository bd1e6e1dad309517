import { randomUUID } from "node:crypto";

/** Claims as built; overrides may change or delete any of them. */
export interface TokenClaims {
  iss: string;
  aud: string | string[];
  sub: string;
  jti: string;
  iat: number;
  nbf: number;
  exp: number;
  [claim: string]: unknown;
}

export type ClaimOverrides = Record<string, unknown>;

/** The commit every builder points at (a tag push: sha, workflow_sha and job_workflow_sha agree). */
export const DEMO_SHA = "5b0f1c2d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c";
export const DEMO_CONFIG_SHA = "c4b5a6f7e8d9c0b1a2f3e4d5c6b7a8e9d0c1b2a3";

function timing(): { jti: string; iat: number; nbf: number; exp: number } {
  const now = Math.floor(Date.now() / 1000);
  return { jti: randomUUID(), iat: now, nbf: now, exp: now + 300 };
}

/** Shallow merge; an override whose value is undefined deletes the claim. */
export function applyOverrides<T extends Record<string, unknown>>(
  base: T,
  overrides: ClaimOverrides = {},
): T {
  const merged: Record<string, unknown> = { ...base, ...overrides };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete merged[name];
  }
  return merged as T;
}

/**
 * The demo publisher's `match`, which `githubClaims` satisfies: the demo
 * repository and owner id, its release workflow and environment, a tag.
 * A new object each call, so a test may edit its copy.
 */
export function demoReleaseMatch() {
  return {
    repository: "acme/demo",
    repository_owner_id: "1234567",
    workflow: "release.yml",
    environment: "release",
    ref: { glob: "refs/tags/v*" },
  };
}

/** Claims shaped like a GitHub Actions OIDC token for a tag push in the `release` environment. */
export function githubClaims(iss: string, aud: string, overrides?: ClaimOverrides): TokenClaims {
  const t = timing();
  const workflowRef = "acme/demo/.github/workflows/release.yml@refs/tags/v1.2.3";
  return applyOverrides(
    {
      jti: t.jti,
      sub: "repo:acme/demo:environment:release",
      aud,
      ref: "refs/tags/v1.2.3",
      sha: DEMO_SHA,
      repository: "acme/demo",
      repository_owner: "acme",
      repository_owner_id: "1234567",
      run_id: "9876543210",
      run_number: "42",
      run_attempt: "1",
      repository_visibility: "private",
      repository_id: "892394032",
      actor_id: "583231",
      actor: "octocat",
      workflow: "Release",
      head_ref: "",
      base_ref: "",
      event_name: "push",
      ref_protected: "true",
      ref_type: "tag",
      workflow_ref: workflowRef,
      workflow_sha: DEMO_SHA,
      job_workflow_ref: workflowRef,
      job_workflow_sha: DEMO_SHA,
      runner_environment: "github-hosted",
      environment: "release",
      iss,
      nbf: t.nbf,
      exp: t.exp,
      iat: t.iat,
    },
    overrides,
  );
}

/** Claims shaped like a GitLab CI ID token for a protected tag pipeline in the `release` environment. */
export function gitlabClaims(iss: string, aud: string, overrides?: ClaimOverrides): TokenClaims {
  const t = timing();
  return applyOverrides(
    {
      namespace_id: "72",
      namespace_path: "acme",
      project_id: "4242",
      project_path: "acme/demo",
      user_id: "3141",
      user_login: "octocat",
      user_email: "octocat@acme.example",
      user_access_level: "maintainer",
      pipeline_id: "1180042",
      pipeline_source: "push",
      job_id: "7730042",
      ref: "v1.2.3",
      ref_type: "tag",
      ref_path: "refs/tags/v1.2.3",
      ref_protected: "true",
      environment: "release",
      environment_protected: "true",
      deployment_tier: "production",
      environment_action: "start",
      runner_id: 51,
      runner_environment: "gitlab-hosted",
      sha: DEMO_SHA,
      project_visibility: "private",
      ci_config_ref_uri: "gitlab.example/acme/demo//.gitlab-ci.yml@refs/tags/v1.2.3",
      ci_config_sha: DEMO_CONFIG_SHA,
      jti: t.jti,
      iss,
      iat: t.iat,
      nbf: t.nbf,
      exp: t.exp,
      sub: "project_path:acme/demo:ref_type:tag:ref:v1.2.3",
      aud,
    },
    overrides,
  );
}
