import { randomUUID } from "node:crypto";
import { applyOverrides, type ClaimOverrides, DEMO_SHA, type TokenClaims } from "./claims.js";

/**
 * Realistic claim sets for the CI providers beyond GitHub and GitLab, shaped
 * after each platform's documentation and published sample tokens. Every
 * builder takes the issuer URL (which may be a per-org URL), the audience,
 * and overrides (an override set to undefined deletes the claim).
 */

/** Fixed ids so policies and tokens agree; each provider's tenant is "acme". */
export const IDS = {
  circleci: {
    org: "a64b0a19-f221-4291-b000-8d24bd842b72",
    project: "5a301f56-eaa7-4cce-9441-37810f7c8452",
    pipelineDefinition: "17c50866-1802-5aeb-874e-7f4dfce1b6b5",
    context: "a74579f1-2e7d-451e-b009-5c082ad2729e",
    user: "0f5c9d0e-3f4b-4a63-9a39-7c3c8a5d2e11",
  },
  buildkite: {
    org: "0184990a-4782-42b5-afc1-16715b10b8ff",
    pipeline: "0184990a-7c1e-4b7f-8d7a-4d5f8a0c2b31",
  },
  forgejo: { repository: "58210", owner: "4411" },
  bitbucket: {
    workspace: "03b741e3-7d2a-4b8e-9c1f-3a6e2d4b5c70",
    repository: "d4e45493-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
    environment: "6c2f0e8a-9b1d-4e7f-a3c5-2d4e6f8a0b1c",
  },
  google: { sub: "113556372818230004112" },
  kubernetes: { serviceAccount: "9f1c3b7e-5d2a-4e8f-b6c4-1a3e5f7d9b2c" },
} as const;

function times(lifetimeSeconds: number): { iat: number; nbf: number; exp: number } {
  const now = Math.floor(Date.now() / 1000);
  return { iat: now, nbf: now, exp: now + lifetimeSeconds };
}

/** `$CIRCLE_OIDC_TOKEN_V2` from `circleci run oidc get --claims '{"aud":"..."}'` on a tag pipeline. */
export function circleciClaims(iss: string, aud: string, overrides?: ClaimOverrides): TokenClaims {
  const id = IDS.circleci;
  const P = "oidc.circleci.com/";
  return applyOverrides(
    {
      iss,
      aud,
      sub: `org/${id.org}/project/${id.project}/user/${id.user}/vcs-origin/github.com/acme/demo/vcs-ref/refs/tags/v1.2.3`,
      jti: randomUUID(),
      ...times(3600),
      [`${P}org-id`]: id.org,
      [`${P}project-id`]: id.project,
      [`${P}pipeline-definition-id`]: id.pipelineDefinition,
      [`${P}context-ids`]: [id.context],
      [`${P}pipeline-id`]: "cd267951-f409-44fc-a0f0-81512f5840b0",
      [`${P}workflow-id`]: "2b5b6a7e-8b0c-4f0d-9c1a-5e3d7f9b1a2c",
      [`${P}job-id`]: "7e9c1a3b-5d7f-4b2a-8c6e-0a2c4e6a8c0e",
      [`${P}vcs-origin`]: "github.com/acme/demo",
      [`${P}vcs-ref`]: "refs/tags/v1.2.3",
      [`${P}ssh-rerun`]: false,
    },
    overrides,
  );
}

/** `buildkite-agent oidc request-token --audience ... --claim organization_id,pipeline_id` on a tag build. */
export function buildkiteClaims(iss: string, aud: string, overrides?: ClaimOverrides): TokenClaims {
  return applyOverrides(
    {
      iss,
      aud,
      sub: `organization:acme-inc:pipeline:demo-release:ref:refs/tags/v1.2.3:commit:${DEMO_SHA}:step:publish`,
      jti: randomUUID(),
      ...times(300),
      organization_slug: "acme-inc",
      pipeline_slug: "demo-release",
      build_number: 1042,
      build_tag: "v1.2.3",
      build_branch: "v1.2.3",
      build_commit: DEMO_SHA,
      build_source: "webhook",
      step_key: "publish",
      job_id: "0184990a-477b-4fa8-9968-496074483cee",
      agent_id: "0184990a-4782-42b5-afc1-16715b10b8ff",
      runner_environment: "buildkite-hosted",
      organization_id: IDS.buildkite.org,
      pipeline_id: IDS.buildkite.pipeline,
    },
    overrides,
  );
}

/** A Forgejo Actions job with `enable-openid-connect: true` on Codeberg or a self-hosted instance. */
export function forgejoClaims(iss: string, aud: string, overrides?: ClaimOverrides): TokenClaims {
  const id = IDS.forgejo;
  return applyOverrides(
    {
      iss,
      aud,
      sub: `repo:acme-${id.owner}/demo-${id.repository}:ref:refs/tags/v1.2.3`,
      jti: randomUUID(),
      ...times(3600),
      actor: "octocat",
      actor_id: "1207",
      repository: "acme/demo",
      repository_owner: "acme",
      repository_id: id.repository,
      repository_owner_id: id.owner,
      ref: "refs/tags/v1.2.3",
      ref_type: "tag",
      sha: DEMO_SHA,
      event_name: "push",
      workflow: "release",
      workflow_ref: "acme/demo/.forgejo/workflows/release.yml@refs/tags/v1.2.3",
      run_id: "99187",
      run_number: "42",
      run_attempt: "1",
    },
    overrides,
  );
}

/** `$BITBUCKET_STEP_OIDC_TOKEN` of a deployment step (`oidc: true`) on the main branch. */
export function bitbucketClaims(iss: string, aud: string, overrides?: ClaimOverrides): TokenClaims {
  const id = IDS.bitbucket;
  const step = "{8a1f3c5e-7b9d-4f1a-b3c5-d7e9f1a3b5c7}";
  return applyOverrides(
    {
      iss,
      aud,
      sub: `{${id.repository}}:{${id.environment}}:${step}`,
      jti: randomUUID(),
      ...times(3600),
      accountUuid: "{2c4e6a8c-0e2a-4c6e-8a0c-2e4a6c8e0a2c}",
      workspaceUuid: `{${id.workspace}}`,
      repositoryUuid: `{${id.repository}}`,
      pipelineUuid: "{5e7a9c1e-3a5c-4e7a-9c1e-3a5c7e9a1c3e}",
      stepUuid: step,
      branchName: "main",
      deploymentEnvironment: "production",
      deploymentEnvironmentUuid: `{${id.environment}}`,
    },
    overrides,
  );
}

/** A service account's ID token from the metadata server (`identity?audience=...&format=full`). */
export function googleClaims(iss: string, aud: string, overrides?: ClaimOverrides): TokenClaims {
  return applyOverrides(
    {
      iss,
      aud,
      azp: IDS.google.sub,
      sub: IDS.google.sub,
      email: "release@acme-build.iam.gserviceaccount.com",
      email_verified: true,
      jti: randomUUID(),
      ...times(3600),
      google: {
        compute_engine: {
          project_id: "acme-build",
          project_number: 431283012342,
          zone: "europe-west1-b",
          instance_id: "4817123125441211230",
          instance_name: "release-runner-1",
        },
      },
    },
    overrides,
  );
}

/** A projected service-account token (`serviceAccountToken: {audience, expirationSeconds: 600}`). */
export function kubernetesClaims(
  iss: string,
  aud: string,
  overrides?: ClaimOverrides,
): TokenClaims {
  return applyOverrides(
    {
      iss,
      aud: [aud],
      sub: "system:serviceaccount:release:publisher",
      jti: randomUUID(),
      ...times(600),
      "kubernetes.io": {
        namespace: "release",
        node: { name: "pool-a-7f9c", uid: "3e5a7c9e-1a3c-4e5a-9c1e-5a7c9e1a3c5e" },
        pod: { name: "publisher-5d8f7c9b4-x2k9q", uid: "7c9e1a3c-5e7a-4c9e-8a3c-5e7a9c1e3a5c" },
        serviceaccount: { name: "publisher", uid: IDS.kubernetes.serviceAccount },
      },
    },
    overrides,
  );
}
