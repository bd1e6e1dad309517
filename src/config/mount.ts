import type { RegistryConfig } from "./schema.js";

/**
 * The path prefix under which a registry's compatible endpoints live: its
 * `mount`, or `/r/<id>` by default. The root mount is the empty prefix, so
 * `prefix + "/-/npm/v1/..."` is always a path.
 */
export function mountPrefix(id: string, registry: Pick<RegistryConfig, "mount">): string {
  const mount = registry.mount ?? `/r/${id}`;
  return mount === "/" ? "" : mount.replace(/\/+$/, "");
}
