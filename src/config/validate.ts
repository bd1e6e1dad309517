import { compileIssuerPattern, exampleIssuerUrl, isIssuerPattern } from "../issuers/pattern.js";
import { parseCidr } from "../limits/client-address.js";
import { exactlyPinned, tenantProblem } from "../policy/pins.js";
import { type CompiledPublisher, compilePublisher, PublisherError } from "../policy/publisher.js";
import { providerFor } from "../providers/index.js";
import { mountPrefix } from "./mount.js";
import type { CiIssuerConfig, ParsedConfig, PublisherSpec } from "./schema.js";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

export function isLoopbackHttp(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" && LOOPBACK.has(parsed.hostname);
  } catch {
    return false;
  }
}

/** Checks that need more than one part of the config: references, uniqueness, URLs. */
export function crossCheck(config: ParsedConfig): string[] {
  const problems: string[] = [];
  const audiences = new Map<string, string>();
  for (const [id, registry] of Object.entries(config.registries)) {
    const other = audiences.get(registry.audience);
    if (other)
      problems.push(
        `registries.${id}.audience: already used by registries.${other}; audiences must be unique`,
      );
    audiences.set(registry.audience, id);
  }
  problems.push(...checkMounts(config));
  const issuerUrls = new Set<string>();
  for (const [id, issuer] of Object.entries(config.ci_issuers)) {
    problems.push(...checkIssuerUrl(`ci_issuers.${id}`, issuer));
    if (issuerUrls.has(issuer.url)) problems.push(`ci_issuers.${id}.url: configured twice`);
    issuerUrls.add(issuer.url);
    if (issuer.url === config.issuer) {
      problems.push(
        `ci_issuers.${id}.url: equals trustpub's own issuer; issued tokens must never be accepted as CI tokens`,
      );
    }
  }
  config.rate_limits.trusted_proxies.forEach((entry, index) => {
    if (!parseCidr(entry)) {
      problems.push(
        `rate_limits.trusted_proxies[${index}]: expected an IPv4 or IPv6 address or CIDR range such as 10.0.0.0/8`,
      );
    }
  });
  if (config.dev.demo_issuer && !isLoopbackHttp(config.issuer)) {
    problems.push(
      "dev.demo_issuer: the demo CI issuer is development-only; it needs an http://127.0.0.1 or http://localhost issuer",
    );
  }
  return problems;
}

/** Two registries of one flavor at one mount would answer the same paths. */
function checkMounts(config: ParsedConfig): string[] {
  const problems: string[] = [];
  const served = new Map<string, string>();
  for (const [id, registry] of Object.entries(config.registries)) {
    if (registry.flavor === "generic") continue;
    const key = `${registry.flavor}\u0000${mountPrefix(id, registry)}`;
    const other = served.get(key);
    if (other) {
      problems.push(
        `registries.${id}.mount: registries.${other} already serves the ${registry.flavor} endpoints at ${registry.mount ?? `/r/${id}`}; give each its own mount`,
      );
    }
    served.set(key, id);
  }
  return problems;
}

function checkIssuerUrl(path: string, issuer: CiIssuerConfig): string[] {
  let url = issuer.url;
  if (isIssuerPattern(url)) {
    try {
      compileIssuerPattern(url);
    } catch (err) {
      return [`${path}.url: ${(err as Error).message}`];
    }
    url = exampleIssuerUrl(url);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [`${path}.url: expected an absolute URL`];
  }
  if (parsed.search || parsed.hash || parsed.username || parsed.password) {
    return [`${path}.url: must not carry a query, fragment or credentials`];
  }
  if (parsed.protocol === "https:") return [];
  if (parsed.protocol === "http:" && issuer.allow_http && isLoopbackHttp(url)) return [];
  return [
    `${path}.url: must be https (http only with allow_http: true on a loopback address, for tests)`,
  ];
}

/**
 * Compiles every publisher, collecting all problems with their paths.
 * Returns the compiled publishers and the warnings `trustpub check` prints.
 */
export function compilePublishers(
  config: Pick<ParsedConfig, "registries" | "ci_issuers">,
  specs: readonly PublisherSpec[],
  pathOf: (index: number) => string = (i) => `publishers[${i}]`,
): { publishers: CompiledPublisher[]; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const publishers: CompiledPublisher[] = [];
  const ids = new Set<string>();
  specs.forEach((spec, index) => {
    const path = pathOf(index);
    if (ids.has(spec.id)) problems.push(`${path}.id: duplicate publisher id`);
    ids.add(spec.id);
    // Own properties only: a publisher naming "__proto__" or "constructor" names nothing.
    const registry = Object.hasOwn(config.registries, spec.registry)
      ? config.registries[spec.registry]
      : undefined;
    const issuer = Object.hasOwn(config.ci_issuers, spec.ci_issuer)
      ? config.ci_issuers[spec.ci_issuer]
      : undefined;
    if (!registry) problems.push(`${path}.registry: no registry with this id`);
    if (!issuer) problems.push(`${path}.ci_issuer: no ci_issuer with this id`);
    if (!registry || !issuer) return;
    const provider = providerFor(issuer.provider);
    const segment = issuerSegment(issuer.url);
    try {
      const compiled = compilePublisher(spec, provider, registry.flavor, { segment });
      const example = segment === undefined ? issuer.url : exampleIssuerUrl(issuer.url);
      const tenant = tenantProblem(compiled, provider, issuer.url, segment, example);
      if (tenant !== undefined) {
        problems.push(`${path}.match: ${tenant}`);
        return;
      }
      publishers.push(compiled);
      const pinned = exactlyPinned(compiled, provider);
      if (provider.immutableIds.length > 0 && !provider.immutableIds.some((k) => pinned.has(k))) {
        warnings.push(
          `${path}.match: pins no immutable id (${provider.immutableIds.join(" or ")}) to an exact value; a renamed or re-created ${provider.name} account could take over this publisher`,
        );
      }
    } catch (err) {
      if (!(err instanceof PublisherError)) throw err;
      for (const p of err.problems) problems.push(`${path}.${p.path}: ${p.message}`);
    }
  });
  return { publishers, problems, warnings };
}

/** The segment name of a pattern issuer URL, or undefined for an exact URL (or a broken pattern). */
function issuerSegment(url: string): string | undefined {
  if (!isIssuerPattern(url)) return undefined;
  try {
    return compileIssuerPattern(url).name;
  } catch {
    return undefined;
  }
}
