import { z } from "zod";
import { asciiLower } from "../lib/ascii.js";
import {
  beforeAt,
  claimString,
  compact,
  numericId,
  refuseBorrowedPrivilegeEvent,
  str,
} from "./claims.js";
import type { Identity, Provider } from "./types.js";

/**
 * GitHub Actions (github.com and GHES / enterprise issuers, each configured exactly).
 * Claims: https://docs.github.com/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
 */
const claims = z.object({
  sub: claimString,
  repository: claimString,
  repository_id: numericId,
  repository_owner: claimString,
  repository_owner_id: numericId,
  workflow_ref: claimString,
  job_workflow_ref: claimString,
  job_workflow_sha: z
    .string()
    .regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "expected a commit sha")
    .optional(),
  enterprise: claimString.optional(),
  enterprise_id: numericId.optional(),
  ref: claimString,
  ref_type: claimString.optional(),
  sha: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "expected a commit sha"),
  event_name: claimString,
  environment: claimString.optional(),
  run_id: numericId.optional(),
  run_attempt: numericId.optional(),
  runner_environment: claimString.optional(),
});

/** "owner/repo/.github/workflows/release.yml@refs/tags/v1" -> "release.yml" when it belongs to `repository`. */
function workflowFile(workflowRef: unknown, repository: unknown): string | undefined {
  const path = beforeAt(workflowRef);
  if (path === undefined || typeof repository !== "string") return undefined;
  const prefix = `${asciiLower(repository)}/.github/workflows/`;
  if (!asciiLower(path).startsWith(prefix)) return undefined;
  const file = path.slice(prefix.length);
  return file.includes("/") ? undefined : file;
}

/** The repository part ("owner/repo") of a `job_workflow_ref`. */
function workflowRepository(jobWorkflowRef: unknown): string | undefined {
  const path = beforeAt(jobWorkflowRef);
  const marker = path?.indexOf("/.github/workflows/") ?? -1;
  return marker > 0 ? path!.slice(0, marker) : undefined;
}

/** Keys that name the reusable workflow a job runs, for the implicit same-repository check. */
const JOB_WORKFLOW_KEYS = [
  "job_workflow",
  "job_workflow_sha",
  "/job_workflow_ref",
  "/job_workflow_sha",
];

const GITHUB_COM_ISSUER = "https://token.actions.githubusercontent.com";

/** The web server behind an issuer: github.com (also for enterprise `/<slug>` issuers) or a GHES host. */
function serverUrlOf(issuerUrl: string): string | undefined {
  if (issuerUrl === GITHUB_COM_ISSUER || issuerUrl.startsWith(`${GITHUB_COM_ISSUER}/`)) {
    return "https://github.com";
  }
  const ghes = /^(https:\/\/[^/]+)\/_services\/token$/.exec(issuerUrl);
  return ghes?.[1];
}

export const github: Provider = {
  name: "github",
  claims,
  shortcuts: {
    repository: { caseInsensitive: true },
    repository_id: {},
    repository_owner: { caseInsensitive: true },
    repository_owner_id: {},
    workflow: {},
    job_workflow: { claim: "/job_workflow_ref" },
    job_workflow_sha: { claim: "/job_workflow_sha" },
    environment: { caseInsensitive: true },
    ref: {},
    ref_type: {},
    event_name: {},
    runner_environment: {},
    enterprise: { caseInsensitive: true, claim: "/enterprise" },
    enterprise_id: { claim: "/enterprise_id" },
  },
  immutableIds: ["repository_id", "repository_owner_id"],
  // An enterprise's own issuer (`https://token.actions.githubusercontent.com/{enterprise}`).
  issuerSegments: { enterprise: { claim: "/enterprise", shortcut: "enterprise" } },

  refuse: refuseBorrowedPrivilegeEvent,

  identity(c, issuer): Identity {
    const repository = str(c.repository);
    const serverUrl = serverUrlOf(issuer.url);
    const runId = str(c.run_id);
    const runUrl =
      serverUrl && repository && runId
        ? `${serverUrl}/${repository}/actions/runs/${runId}${c.run_attempt ? `/attempts/${str(c.run_attempt)}` : ""}`
        : undefined;
    return {
      values: {
        repository,
        repository_id: c.repository_id,
        repository_owner: c.repository_owner,
        repository_owner_id: c.repository_owner_id,
        workflow: workflowFile(c.workflow_ref, repository),
        job_workflow: c.job_workflow_ref,
        job_workflow_sha: c.job_workflow_sha,
        environment: c.environment,
        ref: c.ref,
        ref_type: c.ref_type,
        event_name: c.event_name,
        runner_environment: c.runner_environment,
        enterprise: c.enterprise,
        enterprise_id: c.enterprise_id,
      },
      act: compact({
        repository: serverUrl && repository ? `${serverUrl}/${repository}` : repository,
        repository_id: str(c.repository_id),
        repository_owner_id: str(c.repository_owner_id),
        workflow: str(c.workflow_ref),
        job_workflow: str(c.job_workflow_ref),
        job_workflow_sha: str(c.job_workflow_sha),
        ref: str(c.ref),
        sha: str(c.sha),
        event: str(c.event_name),
        run_id: runId,
        environment: str(c.environment),
        run_url: runUrl,
      }),
    };
  },

  /**
   * A reusable workflow from another repository runs with the caller's
   * identity; trust it only when the publisher names it (`job_workflow` by
   * path and ref, or `job_workflow_sha` by commit).
   */
  implicit(identity, matchKeys) {
    if (JOB_WORKFLOW_KEYS.some((key) => matchKeys.has(key))) return undefined;
    const repo = workflowRepository(identity.values.job_workflow);
    const own = identity.values.repository;
    if (repo === undefined || typeof own !== "string" || asciiLower(repo) !== asciiLower(own)) {
      return "job_workflow";
    }
    return undefined;
  },
};
