import type { z } from "zod";

/** A provider's normalised view of a verified CI token. */
export interface Identity {
  /** Shortcut values, normalised as the provider defines them (undefined when absent). */
  readonly values: Readonly<Record<string, unknown>>;
  /** What the issued token's `act` claim records about the CI run. */
  readonly act: Readonly<Record<string, string>>;
}

export interface Shortcut {
  /** Compare ASCII case-insensitively by default (GitHub owner, repository, environment). */
  readonly caseInsensitive?: boolean;
}

/** Context a provider needs besides the claims. */
export interface IssuerContext {
  readonly id: string;
  readonly url: string;
  /** Events the issuer's config explicitly allows despite the provider's refusals. */
  readonly allowEvents: readonly string[];
  /** Named segments matched in a pattern issuer URL, e.g. { org_id: "..." }. */
  readonly params: Readonly<Record<string, string>>;
}

/**
 * One CI platform: the claims it must carry, how they are normalised, the
 * shortcuts a publisher's `match` may use, and what it refuses by default.
 */
export interface Provider {
  readonly name: string;
  /** Claims required beyond iss/aud/exp/iat/jti; other claims pass through untouched. */
  readonly claims: z.ZodType;
  readonly shortcuts: Readonly<Record<string, Shortcut>>;
  /** Shortcuts naming ids that survive a rename; a publisher should pin one. */
  readonly immutableIds: readonly string[];
  /** A description when the token is refused whatever the policy says (forbidden_event). */
  refuse(claims: Record<string, unknown>, issuer: IssuerContext): string | undefined;
  identity(claims: Record<string, unknown>, issuer: IssuerContext): Identity;
  /**
   * Checks a publisher gets implicitly unless its `match` names the keys
   * involved, e.g. GitHub's "the job's workflow lives in the same repository".
   * Returns the name of the failed implicit check, or undefined.
   */
  implicit?(identity: Identity, matchKeys: ReadonlySet<string>): string | undefined;
}
