/**
 * npm package names as they appear in registry paths. The npm CLI escapes a
 * scoped name as `@scope%2fname`; proxies that decode paths turn it into
 * `@scope/name`. Both are read here; nothing else is a package name.
 */
const NPM_NAME = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/i;

export function isNpmName(name: string): boolean {
  return name.length <= 214 && NPM_NAME.test(name);
}

/** A percent-decoded path segment, or undefined when the escapes are broken. */
export function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * The package named by the first path segments (`@scope%2fname`,
 * `@scope/name` or `name`), with the number of segments it took.
 */
export function npmNameAt(
  segments: readonly string[],
  start = 0,
): { name: string; used: number } | undefined {
  const first = segments[start];
  if (first === undefined) return undefined;
  const decoded = decodeSegment(first);
  if (decoded === undefined) return undefined;
  if (decoded.startsWith("@") && !decoded.includes("/")) {
    const second = segments[start + 1];
    const rest = second === undefined ? undefined : decodeSegment(second);
    if (rest === undefined) return undefined;
    const name = `${decoded}/${rest}`;
    return isNpmName(name) ? { name, used: 2 } : undefined;
  }
  return isNpmName(decoded) ? { name: decoded, used: 1 } : undefined;
}
