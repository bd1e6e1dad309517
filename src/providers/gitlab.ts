import { z } from "zod";
import { beforeAt, claimString, compact, numericId, str } from "./claims.js";
import type { Identity, Provider } from "./types.js";

/**
 * GitLab CI (gitlab.com or a self-hosted instance, each its own ci_issuer).
 * Claims: https://docs.gitlab.com/ci/secrets/id_token_authentication/
 */
const claims = z.object({
  sub: claimString,
  namespace_id: numericId,
  namespace_path: claimString,
  project_id: numericId,
  project_path: claimString,
  ref: claimString,
  ref_type: claimString,
  ref_protected: claimString.optional(),
  pipeline_source: claimString,
  pipeline_id: numericId,
  job_id: numericId,
  ci_config_ref_uri: claimString,
  sha: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "expected a commit sha"),
  environment: claimString.optional(),
});

/** "gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main" -> ".gitlab-ci.yml" for that project. */
function ciConfigFile(uri: unknown, projectPath: unknown): string | undefined {
  const path = beforeAt(uri);
  if (path === undefined || typeof projectPath !== "string") return undefined;
  const split = path.indexOf("//");
  if (split === -1) return undefined;
  const host = path.slice(0, path.indexOf("/"));
  if (path.slice(host.length + 1, split).toLowerCase() !== projectPath.toLowerCase())
    return undefined;
  return path.slice(split + 2);
}

function hostOf(uri: unknown): string | undefined {
  const path = beforeAt(uri);
  const slash = path?.indexOf("/") ?? -1;
  return slash > 0 ? path!.slice(0, slash) : undefined;
}

export const gitlab: Provider = {
  name: "gitlab",
  claims,
  shortcuts: {
    project_path: { caseInsensitive: true },
    project_id: {},
    namespace_path: { caseInsensitive: true },
    namespace_id: {},
    ci_config: {},
    environment: {},
    ref: {},
    ref_type: {},
    ref_protected: {},
    pipeline_source: {},
  },
  immutableIds: ["project_id", "namespace_id"],

  refuse: () => undefined,

  identity(c): Identity {
    const project = str(c.project_path);
    const host = hostOf(c.ci_config_ref_uri);
    const base = host && project ? `https://${host}/${project}` : undefined;
    return {
      values: {
        project_path: project,
        project_id: c.project_id,
        namespace_path: c.namespace_path,
        namespace_id: c.namespace_id,
        ci_config: ciConfigFile(c.ci_config_ref_uri, project),
        environment: c.environment,
        ref: c.ref,
        ref_type: c.ref_type,
        ref_protected: c.ref_protected,
        pipeline_source: c.pipeline_source,
      },
      act: compact({
        repository: base ?? project,
        project_id: str(c.project_id),
        namespace_id: str(c.namespace_id),
        workflow: str(c.ci_config_ref_uri),
        ref: str(c.ref_path) ?? str(c.ref),
        sha: str(c.sha),
        event: str(c.pipeline_source),
        run_id: str(c.pipeline_id),
        environment: str(c.environment),
        run_url: base && str(c.job_id) ? `${base}/-/jobs/${str(c.job_id)}` : undefined,
      }),
    };
  },
};
