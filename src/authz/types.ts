import type { Permission } from "../policy/packages.js";
import type { OriginalUri } from "./uri.js";

/**
 * What a registry request does: the permission it needs and, when the URI
 * names it, the package. Without a package (an upload that names it only in
 * its body) the upstream must check the name against `X-Trustpub-Packages`.
 */
export interface Operation {
  readonly permission: Permission;
  readonly package?: string | undefined;
}

/** Reads an operation from a method and URI; undefined when it is no operation trustpub authorizes. */
export type Deriver = (method: string, uri: OriginalUri) => Operation | undefined;

/** GET and HEAD are reads; other methods keep their name. */
export function normalMethod(method: string): string {
  const upper = method.toUpperCase();
  return upper === "HEAD" ? "GET" : upper;
}

/** Any read the flavor does not recognise still needs `read` on some package. */
export function fallbackRead(method: string): Operation | undefined {
  return normalMethod(method) === "GET" ? { permission: "read" } : undefined;
}
