import {
  compilePackagePattern,
  type Flavor,
  PERMISSIONS,
  type Permission,
  permissionCovers,
} from "../policy/packages.js";
import type { Operation } from "./types.js";

/** The `(permission, package pattern)` pairs of an issued token's `scope` (`publish:@acme/demo ...`). */
export function scopeEntries(scope: string): { permission: Permission; pattern: string }[] {
  const entries: { permission: Permission; pattern: string }[] = [];
  for (const item of scope.split(" ")) {
    const colon = item.indexOf(":");
    if (colon <= 0) continue;
    const permission = item.slice(0, colon) as Permission;
    if (!PERMISSIONS.includes(permission)) continue;
    entries.push({ permission, pattern: item.slice(colon + 1) });
  }
  return entries;
}

/**
 * True when the token's scope covers the operation: some entry grants the
 * permission (`publish` implies `read`) for the package, compared by the
 * flavor's own name rules. An operation without a package needs the
 * permission on some package; the upstream checks which.
 */
export function scopeCovers(scope: string, flavor: Flavor, operation: Operation): boolean {
  for (const entry of scopeEntries(scope)) {
    if (!permissionCovers(entry.permission, operation.permission)) continue;
    if (operation.package === undefined) return true;
    if (compilePackagePattern(flavor, entry.pattern).matches(operation.package)) return true;
  }
  return false;
}
