import { z } from "zod";
import { claimString, compact, normalizeUuid, str, uuid, uuidOf } from "./claims.js";
import type { Identity, Provider } from "./types.js";

/**
 * Buildkite (`https://agent.buildkite.com`, one issuer for every organization).
 * Claims: https://buildkite.com/docs/agent/v3/cli-oidc
 *
 * `organization_id` and `pipeline_id` are opt-in: the job asks for them with
 * `buildkite-agent oidc request-token --claim organization_id,pipeline_id`.
 * `sub` is chosen by the job (`--subject-claim`), so it is never matched and
 * the issued token's subject is rebuilt from claims the job cannot choose.
 */
const claims = z.object({
  sub: claimString,
  organization_slug: claimString,
  pipeline_slug: claimString,
  build_number: z.number().int().nonnegative(),
  build_branch: claimString.optional(),
  build_tag: claimString.optional(),
  build_commit: claimString,
  build_source: claimString.optional(),
  step_key: claimString.nullable().optional(),
  job_id: uuid,
  agent_id: uuid.optional(),
  organization_id: uuid.optional(),
  pipeline_id: uuid.optional(),
  cluster_id: uuid.optional(),
  queue_id: uuid.optional(),
  runner_environment: claimString.optional(),
});

const id = (claim: string) => ({ normalize: normalizeUuid, claim: `/${claim}` });

export const buildkite: Provider = {
  name: "buildkite",
  claims,
  shortcuts: {
    organization_slug: { claim: "/organization_slug" },
    organization_id: id("organization_id"),
    pipeline_slug: { claim: "/pipeline_slug" },
    pipeline_id: id("pipeline_id"),
    build_branch: { claim: "/build_branch" },
    build_tag: { claim: "/build_tag" },
    build_source: { claim: "/build_source" },
    step_key: { claim: "/step_key" },
    cluster_id: id("cluster_id"),
    queue_id: id("queue_id"),
    runner_environment: { claim: "/runner_environment" },
  },
  immutableIds: ["organization_id", "pipeline_id"],
  tenantKeys: ["organization_slug", "organization_id", "pipeline_id"],
  untrustedClaims: {
    "/sub":
      "the Buildkite job chooses its sub (--subject-claim); match organization_id and pipeline_id instead",
  },

  refuse: () => undefined,

  identity(c): Identity {
    const org = str(c.organization_slug);
    const pipeline = str(c.pipeline_slug);
    const buildNumber = typeof c.build_number === "number" ? String(c.build_number) : undefined;
    const tag = str(c.build_tag);
    const branch = str(c.build_branch);
    const ref = tag ? `refs/tags/${tag}` : branch ? `refs/heads/${branch}` : undefined;
    const base = org && pipeline ? `https://buildkite.com/${org}/${pipeline}` : undefined;
    return {
      values: {
        organization_slug: org,
        organization_id: uuidOf(c.organization_id),
        pipeline_slug: pipeline,
        pipeline_id: uuidOf(c.pipeline_id),
        build_branch: c.build_branch,
        build_tag: c.build_tag,
        build_source: c.build_source,
        step_key: c.step_key ?? undefined,
        cluster_id: uuidOf(c.cluster_id),
        queue_id: uuidOf(c.queue_id),
        runner_environment: c.runner_environment,
      },
      act: compact({
        repository: base,
        organization_id: uuidOf(c.organization_id),
        pipeline_id: uuidOf(c.pipeline_id),
        ref,
        sha: str(c.build_commit),
        event: str(c.build_source),
        run_id: buildNumber,
        job_id: str(c.job_id),
        step: str(c.step_key),
        run_url: base && buildNumber ? `${base}/builds/${buildNumber}` : undefined,
      }),
      subject: `organization:${org}:pipeline:${pipeline}:ref:${ref ?? ""}:commit:${str(c.build_commit) ?? ""}:step:${str(c.step_key) ?? ""}`,
    };
  },
};
