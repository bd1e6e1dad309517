import { z } from "zod";
import type { IssuerContext } from "./types.js";

/** A non-empty claim string of sane length, without control characters. */
export const claimString = z
  .string()
  .min(1)
  .max(1024)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "contains control characters");

/** A decimal id as GitHub and GitLab send them ("1234567"). */
export const numericId = z.string().regex(/^[0-9]{1,20}$/, "expected a decimal id");

/** The text before the first "@" of a `<path>@<ref>` claim. */
export function beforeAt(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const at = value.indexOf("@");
  return at === -1 ? value : value.slice(0, at);
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Keeps only the string members, for the issued token's `act` claim. */
export function compact(record: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(record)) if (v !== undefined && v !== "") out[k] = v;
  return out;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** A UUID, as CircleCI, Buildkite and Kubernetes send them. */
export const uuid = z.string().regex(UUID, "expected a UUID");

/** A UUID wrapped in braces, as Bitbucket sends them ("{0b6c...}"); bare UUIDs are accepted too. */
export const bracedUuid = z
  .string()
  .refine((s) => UUID.test(s.replace(/^\{(.*)\}$/, "$1")), "expected a UUID");

/** One spelling for a UUID: no braces, lower case (RFC 9562 compares UUIDs case-insensitively). */
export function normalizeUuid(value: string): string {
  return value.replace(/^\{(.*)\}$/, "$1").toLowerCase();
}

/** The normalised UUID of a claim, or undefined when it is not a string. */
export function uuidOf(value: unknown): string | undefined {
  return typeof value === "string" ? normalizeUuid(value) : undefined;
}

/** A decimal id that a platform may send as a JSON number or a string. */
export function idString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** The workflow file of `<owner>/<repo>/<dir>/<file>@<ref>` when it lives in `repository` under one of `dirs`. */
export function workflowFileIn(
  workflowRef: unknown,
  repository: unknown,
  dirs: readonly string[],
  fold: (s: string) => string,
): string | undefined {
  const path = beforeAt(workflowRef);
  if (path === undefined || typeof repository !== "string") return undefined;
  for (const dir of dirs) {
    const prefix = fold(`${repository}/${dir}/`);
    if (!fold(path).startsWith(prefix)) continue;
    const file = path.slice(prefix.length);
    return file.includes("/") || file === "" ? undefined : file;
  }
  return undefined;
}

/**
 * GitHub Actions and Forgejo Actions: `pull_request_target` and
 * `workflow_run` run with the base repository's secrets and id-token
 * permission on behalf of code from elsewhere; their `ref` is the base
 * branch, so a ref policy does not protect against them. Refused unless the
 * issuer lists the event in `allow_events`.
 */
const BORROWED_PRIVILEGE_EVENTS = new Set(["pull_request_target", "workflow_run"]);

export function refuseBorrowedPrivilegeEvent(
  claims: Record<string, unknown>,
  issuer: IssuerContext,
): string | undefined {
  const event = str(claims.event_name);
  if (
    event !== undefined &&
    BORROWED_PRIVILEGE_EVENTS.has(event) &&
    !issuer.allowEvents.includes(event)
  ) {
    return `event ${event} is refused unless the issuer lists it in allow_events`;
  }
  return undefined;
}
