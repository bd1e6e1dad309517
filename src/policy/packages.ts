import { asciiLower } from "../lib/ascii.js";
import { globToRegexSource } from "./matcher.js";

export const FLAVORS = ["npm", "pypi", "cargo", "rubygems", "nuget", "generic"] as const;
export type Flavor = (typeof FLAVORS)[number];

export const PERMISSIONS = ["publish", "read", "yank"] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * A package name as its registry compares it: PyPI as PEP 503
 * (runs of `-_.` are one `-`, lower case), crates.io without case and with
 * `-` equal to `_`, NuGet without case; npm and RubyGems exactly.
 */
export function normalizePackage(flavor: Flavor, name: string): string {
  switch (flavor) {
    case "pypi":
      return asciiLower(name.replace(/[-_.]+/g, "-"));
    case "cargo":
      return asciiLower(name.replaceAll("_", "-"));
    case "nuget":
      return asciiLower(name);
    default:
      return name;
  }
}

/** A package pattern from `publishers[].packages`: an exact name or a glob with `*`. */
export interface PackagePattern {
  readonly source: string;
  matches(name: string): boolean;
}

export function compilePackagePattern(flavor: Flavor, pattern: string): PackagePattern {
  const normalized = normalizePackage(flavor, pattern);
  if (!pattern.includes("*")) {
    return { source: pattern, matches: (name) => normalizePackage(flavor, name) === normalized };
  }
  const re = new RegExp(`^${globToRegexSource(normalized).replaceAll("[^/]*", ".*")}$`, "su");
  return { source: pattern, matches: (name) => re.test(normalizePackage(flavor, name)) };
}

/** `publish` implies `read` of the same packages. */
export function permissionCovers(granted: Permission, wanted: Permission): boolean {
  return granted === wanted || (granted === "publish" && wanted === "read");
}

/** Names a registry accepts; anything else in a request is malformed. */
export function isPlausiblePackageName(name: string): boolean {
  return name.length > 0 && name.length <= 214 && /^[\x21-\x7e]+$/.test(name);
}
