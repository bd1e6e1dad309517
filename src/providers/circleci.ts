import { z } from "zod";
import { claimString, compact, normalizeUuid, str, uuid, uuidOf } from "./claims.js";
import type { Identity, Provider } from "./types.js";

/**
 * CircleCI (`https://oidc.circleci.com/org/<org id>`, or the root issuer
 * `https://oidc.circleci.com` from `circleci run oidc get --root-issuer`).
 * Claims: https://circleci.com/docs/guides/permissions-authentication/openid-connect-tokens/
 *
 * The org, project and pipeline definition are UUIDs that survive renames;
 * `vcs-origin` and `vcs-ref` are names and are absent for custom webhooks.
 * `sub` (`org/<org>/project/<project>/user/<user>[/vcs-origin/...]`) is not
 * escaped, so it is never parsed.
 */
const P = "oidc.circleci.com/";
const claims = z.object({
  sub: claimString,
  [`${P}org-id`]: uuid,
  [`${P}project-id`]: uuid,
  [`${P}pipeline-definition-id`]: uuid.optional(),
  [`${P}context-ids`]: z.array(uuid).max(100).optional(),
  [`${P}vcs-origin`]: claimString.optional(),
  [`${P}vcs-ref`]: claimString.optional(),
  [`${P}pipeline-id`]: uuid.optional(),
  [`${P}workflow-id`]: uuid.optional(),
  [`${P}job-id`]: uuid.optional(),
  // A type-strict boolean: the string "false" is not false.
  [`${P}ssh-rerun`]: z.boolean(),
});

const ROOT_ISSUER = "https://oidc.circleci.com";
/** JSON Pointer of a prefixed claim: the "/" inside the claim name is written "~1" (RFC 6901). */
const pointer = (claim: string) => `/oidc.circleci.com~1${claim}`;
const uuidShortcut = (claim: string) => ({ normalize: normalizeUuid, claim: pointer(claim) });

export const circleci: Provider = {
  name: "circleci",
  claims,
  shortcuts: {
    org_id: uuidShortcut("org-id"),
    project_id: uuidShortcut("project-id"),
    pipeline_definition_id: uuidShortcut("pipeline-definition-id"),
    context_ids: uuidShortcut("context-ids"),
    vcs_origin: { caseInsensitive: true, claim: pointer("vcs-origin") },
    vcs_ref: { claim: pointer("vcs-ref") },
  },
  immutableIds: ["org_id", "project_id", "pipeline_definition_id"],
  tenantKeys: ["org_id", "project_id", "pipeline_definition_id"],
  idsSpanIssuers: true,
  issuerNamesTenant: (url) => url !== ROOT_ISSUER && url.startsWith(`${ROOT_ISSUER}/org/`),
  issuerSegments: { org_id: { claim: pointer("org-id"), shortcut: "org_id" } },

  refuse(c) {
    // A person re-ran the job with SSH: the token was in reach of an interactive shell.
    if (c[`${P}ssh-rerun`] === true) return "jobs re-run with SSH are refused";
    return undefined;
  },

  identity(c): Identity {
    const contexts = c[`${P}context-ids`];
    const origin = str(c[`${P}vcs-origin`]);
    return {
      values: {
        org_id: uuidOf(c[`${P}org-id`]),
        project_id: uuidOf(c[`${P}project-id`]),
        pipeline_definition_id: uuidOf(c[`${P}pipeline-definition-id`]),
        context_ids: Array.isArray(contexts) ? contexts.map((id) => uuidOf(id)) : undefined,
        vcs_origin: origin,
        vcs_ref: c[`${P}vcs-ref`],
      },
      act: compact({
        repository: origin ? `https://${origin}` : undefined,
        org_id: uuidOf(c[`${P}org-id`]),
        project_id: uuidOf(c[`${P}project-id`]),
        pipeline_definition_id: uuidOf(c[`${P}pipeline-definition-id`]),
        ref: str(c[`${P}vcs-ref`]),
        run_id: str(c[`${P}pipeline-id`]),
        workflow_id: str(c[`${P}workflow-id`]),
        job_id: str(c[`${P}job-id`]),
      }),
    };
  },
};
