import type { Identity, IssuerContext, Provider } from "./types.js";

/** The match-key prefix under which a pattern issuer's segments are offered to policies. */
export const ISSUER_KEY_PREFIX = "issuer.";

/**
 * The provider's identity of a verified token, plus the segments its pattern
 * issuer matched, as `issuer.<name>` values: a publisher of the issuer
 * `https://oidc.circleci.com/org/{org_id}` can match `issuer.org_id`.
 * No claim can collide with these keys: claims are matched by JSON Pointer
 * (`/...`) and shortcuts never contain a dot.
 */
export function identify(
  provider: Provider,
  claims: Record<string, unknown>,
  context: IssuerContext,
): Identity {
  const identity = provider.identity(claims, context);
  const params = Object.entries(context.params);
  if (params.length === 0) return identity;
  const values: Record<string, unknown> = { ...identity.values };
  for (const [name, value] of params) values[`${ISSUER_KEY_PREFIX}${name}`] = value;
  return { ...identity, values };
}
