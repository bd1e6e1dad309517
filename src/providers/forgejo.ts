import { z } from "zod";
import { asciiLower } from "../lib/ascii.js";
import {
  claimString,
  compact,
  idString,
  refuseBorrowedPrivilegeEvent,
  str,
  workflowFileIn,
} from "./claims.js";
import type { Identity, IssuerContext, Provider } from "./types.js";

/**
 * Forgejo Actions: Codeberg (`https://codeberg.org/api/actions`) and
 * self-hosted instances (`<instance>/api/actions`), with GitHub-shaped claims.
 * Docs: https://forgejo.org/docs/next/user/actions/security-openid-connect/
 *
 * `repository_id`, `repository_owner_id` and `actor_id` exist from the
 * release that added immutable ids; older instances omit them, so they are
 * optional here and a publisher that pins them refuses such tokens. `sub`
 * (`repo:owner/repo:...`, or `repo:owner-12/repo-34:...` on newer repos) is
 * ambiguous across the two forms and is never parsed.
 */
const decimalId = z.union([
  z.string().regex(/^[0-9]{1,20}$/, "expected a decimal id"),
  z.number().int().nonnegative(),
]);
const claims = z.object({
  sub: claimString,
  repository: claimString,
  repository_owner: claimString,
  repository_id: decimalId.optional(),
  repository_owner_id: decimalId.optional(),
  ref: claimString,
  ref_type: claimString.optional(),
  sha: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "expected a commit sha"),
  event_name: claimString,
  workflow_ref: claimString.optional(),
  environment: claimString.optional(),
  run_id: decimalId.optional(),
  run_number: decimalId.optional(),
  run_attempt: decimalId.optional(),
});

const WORKFLOW_DIRS = [".forgejo/workflows", ".gitea/workflows", ".github/workflows"];

/** `https://codeberg.org/api/actions` -> `https://codeberg.org`. */
function serverOf(issuer: IssuerContext): string | undefined {
  return issuer.url.endsWith("/api/actions")
    ? issuer.url.slice(0, -"/api/actions".length)
    : undefined;
}

export const forgejo: Provider = {
  name: "forgejo",
  claims,
  shortcuts: {
    repository: { caseInsensitive: true, claim: "/repository" },
    repository_id: { claim: "/repository_id" },
    repository_owner: { caseInsensitive: true, claim: "/repository_owner" },
    repository_owner_id: { claim: "/repository_owner_id" },
    workflow: {},
    environment: { caseInsensitive: true, claim: "/environment" },
    ref: { claim: "/ref" },
    ref_type: { claim: "/ref_type" },
    event_name: { claim: "/event_name" },
  },
  immutableIds: ["repository_id", "repository_owner_id"],
  tenantKeys: ["repository", "repository_id", "repository_owner", "repository_owner_id"],

  refuse: refuseBorrowedPrivilegeEvent,

  identity(c, issuer): Identity {
    const repository = str(c.repository);
    const server = serverOf(issuer);
    const runId = idString(c.run_id);
    // Forgejo's run pages are numbered per repository (run_number), not by run_id.
    const runNumber = idString(c.run_number);
    return {
      values: {
        repository,
        repository_id: idString(c.repository_id),
        repository_owner: c.repository_owner,
        repository_owner_id: idString(c.repository_owner_id),
        workflow: workflowFileIn(c.workflow_ref, repository, WORKFLOW_DIRS, asciiLower),
        environment: c.environment,
        ref: c.ref,
        ref_type: c.ref_type,
        event_name: c.event_name,
      },
      act: compact({
        repository: server && repository ? `${server}/${repository}` : repository,
        repository_id: idString(c.repository_id),
        repository_owner_id: idString(c.repository_owner_id),
        workflow: str(c.workflow_ref),
        ref: str(c.ref),
        sha: str(c.sha),
        event: str(c.event_name),
        run_id: runId,
        environment: str(c.environment),
        run_url:
          server && repository && runNumber
            ? `${server}/${repository}/actions/runs/${runNumber}`
            : undefined,
      }),
    };
  },
};
