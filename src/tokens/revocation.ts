import type { RegistryConfig } from "../config/schema.js";
import { type ReplayStore, revokedKey } from "../replay/store.js";
import type { IssuedToken } from "./verify-issued.js";

/** What deciding "is this issued token usable now" needs. */
export interface ActiveTokenDeps {
  readonly verify: (token: string) => Promise<IssuedToken | undefined>;
  readonly replay: ReplayStore;
  readonly keyPrefix: string;
}

/**
 * An issued token that verifies (trustpub's keys, issuer, `typ`, time) and is
 * not on the denylist; undefined for anything else, without saying why. The
 * denylist lives in the replay store, so a revocation on one replica holds on
 * all of them; a store that cannot answer throws `unavailable` (fail closed).
 */
export async function activeIssuedToken(
  deps: ActiveTokenDeps,
  token: string,
): Promise<IssuedToken | undefined> {
  const issued = await deps.verify(token);
  if (issued === undefined) return undefined;
  if (await deps.replay.has(await revokedKey(deps.keyPrefix, issued.jti))) return undefined;
  return issued;
}

/**
 * Puts an issued token on the denylist until it would expire anyway (its
 * `exp` plus the clock skew verification allows), RFC 7009 section 2.1.
 * True when this call revoked it, false when it was already revoked.
 */
export async function revokeIssuedToken(
  replay: ReplayStore,
  keyPrefix: string,
  issued: IssuedToken,
  clockSkewMs: number,
): Promise<boolean> {
  const key = await revokedKey(keyPrefix, issued.jti);
  return replay.claim(key, issued.exp * 1000 + clockSkewMs);
}

/** An issued token is for a registry when both its `registry` and its `aud` say so. */
export function issuedFor(
  issued: IssuedToken,
  registryId: string,
  registry: Pick<RegistryConfig, "token_audience">,
): boolean {
  return issued.registry === registryId && issued.aud === registry.token_audience;
}
