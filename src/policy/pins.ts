import { ISSUER_KEY_PREFIX } from "../providers/identify.js";
import type { Provider } from "../providers/types.js";
import type { CompiledPublisher } from "./publisher.js";

/** Matcher forms that pin a value; a glob, regex or `present` admits values nobody listed. */
const EXACT = new Set(["equals", "one_of"]);

/**
 * The shortcuts a publisher pins to exact values, whichever way it names
 * them: the shortcut itself, the JSON Pointer of the claim the shortcut
 * reads, or a pattern issuer's segment bound to that claim (`issuer.org_id`).
 */
export function exactlyPinned(publisher: CompiledPublisher, provider: Provider): Set<string> {
  const byClaim = new Map<string, string>();
  for (const [name, shortcut] of Object.entries(provider.shortcuts)) {
    byClaim.set(shortcut.claim ?? `/${name}`, name);
  }
  const pinned = new Set<string>();
  for (const check of publisher.checks) {
    if (!EXACT.has(check.matcher.kind)) continue;
    if (check.key.startsWith(ISSUER_KEY_PREFIX)) {
      pinned.add(check.key);
      const bound = provider.issuerSegments?.[check.key.slice(ISSUER_KEY_PREFIX.length)];
      if (bound) pinned.add(bound.shortcut);
    } else if (check.pointer) {
      const name = byClaim.get(check.key);
      if (name) pinned.add(name);
    } else {
      pinned.add(check.key);
    }
  }
  return pinned;
}

/**
 * A pattern issuer whose segment names a separate instance (a self-hosted
 * GitLab or Forgejo per tenant) needs that segment pinned. And when the
 * issuer is shared by many tenants (Buildkite, Google, a pattern
 * issuer, Codeberg), a publisher that pins no tenant would trust all of
 * them: that is a config error, not a warning. Returns the problem, if any.
 */
export function tenantProblem(
  publisher: CompiledPublisher,
  provider: Provider,
  issuerUrl: string,
  segment: string | undefined,
  exampleUrl: string,
): string | undefined {
  const pinned = exactlyPinned(publisher, provider);
  if (
    segment !== undefined &&
    !provider.issuerSegments?.[segment] &&
    !provider.idsSpanIssuers &&
    !pinned.has(`${ISSUER_KEY_PREFIX}${segment}`)
  ) {
    return `pins no ${ISSUER_KEY_PREFIX}${segment}: the pattern's issuers are separate ${provider.name} instances whose names and ids can collide, so pin ${ISSUER_KEY_PREFIX}${segment} to an exact value`;
  }
  const keys = provider.tenantKeys;
  if (!keys || keys.length === 0) return undefined;
  if (segment === undefined && provider.issuerNamesTenant?.(issuerUrl)) return undefined;
  if (segment !== undefined && pinned.has(`${ISSUER_KEY_PREFIX}${segment}`)) {
    if (provider.issuerNamesTenant?.(exampleUrl)) return undefined;
  }
  if (keys.some((key) => pinned.has(key))) return undefined;
  return `pins no ${provider.name} tenant: the issuer is shared, so pin one of ${keys.join(", ")}${segment !== undefined ? ` or ${ISSUER_KEY_PREFIX}${segment}` : ""} to an exact value`;
}
