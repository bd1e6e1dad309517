import { z } from "zod";
import { bracedUuid, claimString, compact, normalizeUuid, str, uuidOf } from "./claims.js";
import type { Identity, Provider } from "./types.js";

/**
 * Bitbucket Pipelines: one issuer per workspace,
 * `https://api.bitbucket.org/2.0/workspaces/<workspace>/pipelines-config/identity/oidc`.
 * Docs: https://support.atlassian.com/bitbucket-cloud/docs/integrate-pipelines-with-resource-servers-using-oidc/
 *
 * The workspace in the URL is its slug, which a rename frees for someone
 * else; the UUIDs (`{...}`, normalised without braces, lower case) are what a
 * publisher pins. `sub` is `{repo}:{step}` or `{repo}:{env}:{step}`.
 */
const claims = z.object({
  sub: claimString,
  workspaceUuid: bracedUuid,
  repositoryUuid: bracedUuid,
  pipelineUuid: bracedUuid,
  stepUuid: bracedUuid,
  accountUuid: bracedUuid.optional(),
  branchName: claimString.optional(),
  deploymentEnvironmentUuid: bracedUuid.optional(),
  deploymentEnvironment: claimString.optional(),
});

const id = (claim: string) => ({ normalize: normalizeUuid, claim: `/${claim}` });
const ISSUER =
  /^https:\/\/api\.bitbucket\.org\/2\.0\/workspaces\/[^/]+\/pipelines-config\/identity\/oidc$/;

export const bitbucket: Provider = {
  name: "bitbucket",
  claims,
  shortcuts: {
    workspace_uuid: id("workspaceUuid"),
    repository_uuid: id("repositoryUuid"),
    branch_name: { claim: "/branchName" },
    deployment_environment: { claim: "/deploymentEnvironment" },
    deployment_environment_uuid: id("deploymentEnvironmentUuid"),
  },
  immutableIds: ["workspace_uuid", "repository_uuid"],
  tenantKeys: ["workspace_uuid", "repository_uuid"],
  idsSpanIssuers: true,
  issuerNamesTenant: (url) => ISSUER.test(url),

  refuse: () => undefined,

  identity(c): Identity {
    return {
      values: {
        workspace_uuid: uuidOf(c.workspaceUuid),
        repository_uuid: uuidOf(c.repositoryUuid),
        branch_name: c.branchName,
        deployment_environment: c.deploymentEnvironment,
        deployment_environment_uuid: uuidOf(c.deploymentEnvironmentUuid),
      },
      act: compact({
        workspace_uuid: uuidOf(c.workspaceUuid),
        repository_uuid: uuidOf(c.repositoryUuid),
        ref: str(c.branchName) ? `refs/heads/${str(c.branchName)}` : undefined,
        run_id: uuidOf(c.pipelineUuid),
        step_id: uuidOf(c.stepUuid),
        environment: str(c.deploymentEnvironment),
        environment_uuid: uuidOf(c.deploymentEnvironmentUuid),
      }),
    };
  },
};
