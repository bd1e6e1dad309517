import { TrustpubError } from "../errors.js";
import { type Permission, permissionCovers } from "./packages.js";
import type { CompiledPublisher } from "./publisher.js";

/** One (permission, package) pair of an issued token; the package may be a pattern. */
export interface ScopeEntry {
  readonly permission: Permission;
  readonly package: string;
}

export interface Grant {
  readonly publishers: readonly string[];
  readonly entries: readonly ScopeEntry[];
  readonly packages: readonly string[];
  readonly permissions: readonly Permission[];
  /** RFC 8693 / RFC 6749 scope tokens: `publish:@acme/demo`. */
  readonly scope: readonly string[];
}

export interface NarrowRequest {
  readonly packages?: readonly string[] | undefined;
  readonly permissions?: readonly Permission[] | undefined;
}

/**
 * The union of what the matching publishers grant, narrowed to what the
 * caller asked for. Asking for anything no publisher grants is refused as a
 * whole (scope_exceeded); nothing is silently dropped.
 */
export function grantFor(publishers: readonly CompiledPublisher[], request: NarrowRequest): Grant {
  const pairs: { permission: Permission; publisher: CompiledPublisher; pattern: number }[] = [];
  for (const publisher of publishers) {
    for (const permission of publisher.permissions) {
      publisher.packages.forEach((_, pattern) => {
        pairs.push({ permission, publisher, pattern });
      });
    }
  }
  const entries: ScopeEntry[] = [];
  const wantedPermissions = request.permissions ? [...new Set(request.permissions)] : undefined;

  if (request.packages && request.packages.length > 0) {
    for (const name of new Set(request.packages)) {
      const covering = pairs.filter((p) => p.publisher.packages[p.pattern]!.matches(name));
      if (covering.length === 0)
        throw new TrustpubError("scope_exceeded", "a requested package is not granted");
      const perms = wantedPermissions ?? [...new Set(covering.map((p) => p.permission))];
      for (const permission of perms) {
        if (!covering.some((p) => permissionCovers(p.permission, permission))) {
          throw new TrustpubError(
            "scope_exceeded",
            "a requested permission is not granted for a requested package",
          );
        }
        entries.push({ permission, package: name });
      }
    }
  } else {
    for (const permission of wantedPermissions ?? [...new Set(pairs.map((p) => p.permission))]) {
      const covering = pairs.filter((p) => permissionCovers(p.permission, permission));
      if (covering.length === 0)
        throw new TrustpubError("scope_exceeded", "a requested permission is not granted");
      for (const p of covering)
        entries.push({ permission, package: p.publisher.packages[p.pattern]!.source });
    }
  }

  const unique = dedupe(entries);
  return {
    publishers: publishers.map((p) => p.id),
    entries: unique,
    packages: [...new Set(unique.map((e) => e.package))],
    permissions: [...new Set(unique.map((e) => e.permission))],
    scope: unique.map((e) => `${e.permission}:${e.package}`),
  };
}

function dedupe(entries: ScopeEntry[]): ScopeEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => {
    const key = `${e.permission}:${e.package}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Parses `publish:@acme/demo read:pkg` (RFC 6749 scope) into a narrowing request. */
export function parseScope(
  scope: string,
): { packages: string[]; permissions: Permission[] } | undefined {
  const packages: string[] = [];
  const permissions: Permission[] = [];
  for (const token of scope.split(" ").filter(Boolean)) {
    const colon = token.indexOf(":");
    const permission = colon === -1 ? token : token.slice(0, colon);
    if (permission !== "publish" && permission !== "read" && permission !== "yank")
      return undefined;
    permissions.push(permission);
    if (colon !== -1) packages.push(token.slice(colon + 1));
  }
  return { packages, permissions };
}
