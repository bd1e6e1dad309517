import type { PublisherSpec } from "../config/schema.js";
import { isPointer, parsePointer, resolvePointer } from "../lib/pointer.js";
import { ISSUER_KEY_PREFIX } from "../providers/identify.js";
import type { Identity, Provider } from "../providers/types.js";
import {
  type CompiledMatcher,
  compileMatcher,
  MatcherError,
  type MatcherSpec,
  type MatchOutcome,
} from "./matcher.js";
import {
  compilePackagePattern,
  type Flavor,
  type PackagePattern,
  type Permission,
} from "./packages.js";

/** One `match` entry, compiled: where the value comes from and how it is compared. */
interface Check {
  readonly key: string;
  readonly pointer: readonly string[] | undefined;
  readonly matcher: CompiledMatcher;
}

export interface CompiledPublisher {
  readonly id: string;
  readonly registry: string;
  readonly ciIssuer: string;
  readonly provider: Provider;
  readonly checks: readonly Check[];
  readonly matchKeys: ReadonlySet<string>;
  readonly packages: readonly PackagePattern[];
  readonly permissions: readonly Permission[];
  readonly spec: PublisherSpec;
}

/** A problem in a publisher, with the path below the publisher (`match.environment`). */
export interface PublisherProblem {
  readonly path: string;
  readonly message: string;
}

export class PublisherError extends Error {
  override readonly name = "PublisherError";
  constructor(readonly problems: readonly PublisherProblem[]) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join("; "));
  }
}

/** What a publisher's `ci_issuer` offers beyond its provider. */
export interface PublisherIssuerContext {
  /** The segment name of a pattern issuer (`org_id`), matchable as `issuer.org_id`. */
  readonly segment?: string | undefined;
}

/**
 * Compiles a publisher once, at load or when the admin API saves it:
 * unknown shortcuts, malformed pointers and unsafe patterns are refused here,
 * so matching at request time cannot fail on configuration.
 */
export function compilePublisher(
  spec: PublisherSpec,
  provider: Provider,
  flavor: Flavor,
  issuer: PublisherIssuerContext = {},
): CompiledPublisher {
  const problems: PublisherProblem[] = [];
  const checks: Check[] = [];
  for (const [key, matcherSpec] of Object.entries(spec.match)) {
    const path = `match${isPointer(key) ? `[${JSON.stringify(key)}]` : `.${key}`}`;
    let pointer: string[] | undefined;
    if (isPointer(key)) {
      pointer = parsePointer(key);
      if (!pointer) {
        problems.push({ path, message: "invalid JSON Pointer (RFC 6901)" });
        continue;
      }
      const untrusted = provider.untrustedClaims?.[key];
      if (untrusted !== undefined) {
        problems.push({ path, message: untrusted });
        continue;
      }
    } else if (key.startsWith(ISSUER_KEY_PREFIX)) {
      if (issuer.segment === undefined || key !== `${ISSUER_KEY_PREFIX}${issuer.segment}`) {
        problems.push({
          path,
          message:
            issuer.segment === undefined
              ? "issuer.* keys need a ci_issuer whose url is a pattern"
              : `the ci_issuer's pattern names its segment ${ISSUER_KEY_PREFIX}${issuer.segment}`,
        });
        continue;
      }
    } else if (!Object.hasOwn(provider.shortcuts, key)) {
      const known = Object.keys(provider.shortcuts);
      problems.push({
        path,
        message: `unknown ${provider.name} shortcut; use ${known.length ? `one of ${known.join(", ")} or ` : ""}a JSON Pointer such as "/claim"`,
      });
      continue;
    }
    const expected =
      pointer === undefined ? (provider.shortcuts[key]?.valueType ?? "string") : undefined;
    const literal = typeof matcherSpec === "object" ? undefined : typeof matcherSpec;
    if (expected !== undefined && literal !== undefined && literal !== expected) {
      problems.push({ path, message: `expected ${expected}, received ${literal}` });
      continue;
    }
    try {
      const shortcut = pointer === undefined ? provider.shortcuts[key] : undefined;
      const ci = shortcut?.caseInsensitive === true;
      const normalized = shortcut?.normalize
        ? normalizeLiterals(matcherSpec, shortcut.normalize)
        : matcherSpec;
      checks.push({ key, pointer, matcher: compileMatcher(normalized, ci) });
    } catch (err) {
      if (!(err instanceof MatcherError)) throw err;
      problems.push({ path, message: err.message });
    }
  }
  const packages: PackagePattern[] = spec.packages.map((p) => compilePackagePattern(flavor, p));
  if (problems.length > 0) throw new PublisherError(problems);
  return {
    id: spec.id,
    registry: spec.registry,
    ciIssuer: spec.ci_issuer,
    provider,
    checks,
    matchKeys: new Set(Object.keys(spec.match)),
    packages,
    permissions: [...new Set(spec.permissions)],
    spec,
  };
}

/** A shortcut's normaliser applied to a matcher's literal values; patterns are left as written. */
function normalizeLiterals(spec: MatcherSpec, normalize: (value: string) => string): MatcherSpec {
  if (typeof spec === "string") return normalize(spec);
  if (typeof spec !== "object") return spec;
  if ("equals" in spec) return { ...spec, equals: normalize(spec.equals) };
  if ("one_of" in spec) return { one_of: spec.one_of.map(normalize) };
  if ("contains" in spec) return { contains: normalize(spec.contains) };
  return spec;
}

export interface CheckResult {
  readonly key: string;
  readonly kind: string;
  readonly outcome: MatchOutcome;
}

/** Every check of a publisher against one identity, in order (for explain). */
export function evaluatePublisher(
  publisher: CompiledPublisher,
  claims: Record<string, unknown>,
  identity: Identity,
): CheckResult[] {
  const results: CheckResult[] = publisher.checks.map((check) => {
    const value = check.pointer
      ? resolvePointer(claims, check.pointer)
      : identity.values[check.key];
    return { key: check.key, kind: check.matcher.kind, outcome: check.matcher.test(value) };
  });
  const implicit = publisher.provider.implicit?.(identity, publisher.matchKeys);
  if (implicit !== undefined) {
    results.push({ key: implicit, kind: "implicit", outcome: { ok: false, why: "mismatch" } });
  }
  return results;
}

/** True when every check passes; stops at the first failure. */
export function publisherMatches(
  publisher: CompiledPublisher,
  claims: Record<string, unknown>,
  identity: Identity,
): boolean {
  for (const check of publisher.checks) {
    const value = check.pointer
      ? resolvePointer(claims, check.pointer)
      : identity.values[check.key];
    if (!check.matcher.test(value).ok) return false;
  }
  return publisher.provider.implicit?.(identity, publisher.matchKeys) === undefined;
}
