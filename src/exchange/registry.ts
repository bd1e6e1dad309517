import type { ParsedConfig, RegistryConfig } from "../config/schema.js";
import { TrustpubError } from "../errors.js";

/**
 * The registry a CI token is for: the one whose `audience` equals the token's
 * single `aud`. A one-element array counts as that value (Kubernetes always
 * sends an array); several audiences are refused, since a token for two
 * relying parties could be replayed at either (RFC 8725 3.9).
 */
export function registryForAudience(
  config: Pick<ParsedConfig, "registries">,
  aud: unknown,
): { id: string; registry: RegistryConfig } {
  let audience: unknown = aud;
  if (Array.isArray(aud)) {
    if (aud.length !== 1)
      throw new TrustpubError("invalid_claims", "the token must carry exactly one audience");
    audience = aud[0];
  }
  if (audience === undefined)
    throw new TrustpubError("invalid_claims", "the token carries no audience");
  if (typeof audience !== "string")
    throw new TrustpubError("invalid_claims", "the token's audience is not a string");
  for (const [id, registry] of Object.entries(config.registries)) {
    if (registry.audience === audience) return { id, registry };
  }
  throw new TrustpubError("invalid_claims", "the token's audience is not a registry served here");
}
