import type { z } from "zod";

/** A provider's normalised view of a verified CI token. */
export interface Identity {
  /** Shortcut values, normalised as the provider defines them (undefined when absent). */
  readonly values: Readonly<Record<string, unknown>>;
  /** What the issued token's `act` claim records about the CI run. */
  readonly act: Readonly<Record<string, string>>;
  /**
   * The CI identity the issued token's `sub` names, when the token's own
   * `sub` cannot be trusted (Buildkite lets the job choose it).
   */
  readonly subject?: string | undefined;
}

export interface Shortcut {
  /** Compare ASCII case-insensitively by default (GitHub owner, repository, environment). */
  readonly caseInsensitive?: boolean;
  /**
   * Applied to the token's value by the provider and to a policy's literal
   * values (`"x"`, `equals`, `one_of`, `contains`) at load, so both sides
   * compare in one form (Bitbucket's `{uuid}` braces, upper-case UUIDs).
   */
  readonly normalize?: (value: string) => string;
  /** The raw claim this shortcut reads, as a JSON Pointer: pinning either counts the same. */
  readonly claim?: string;
  /** The type of the shortcut's value; a literal of another type could never match (default string). */
  readonly valueType?: "string" | "boolean";
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

/** A pattern issuer's segment that names a claim of the token: the two must agree. */
export interface IssuerSegmentBinding {
  /** JSON Pointer of the claim the segment must equal. */
  readonly claim: string;
  /** The shortcut a pin of `issuer.<segment>` counts as (for the immutable-id check). */
  readonly shortcut: string;
}

/**
 * One CI platform: the claims it must carry, how they are normalised, the
 * shortcuts a publisher's `match` may use, and what it refuses by default.
 */
export interface Provider {
  readonly name: string;
  /**
   * Claims required beyond iss/aud/exp/iat/jti. Only checked: the parsed copy
   * is discarded and the token's own claims are used, so other claims pass
   * through untouched (plain `z.object`, which leaves them out of the copy
   * instead of copying each one).
   */
  readonly claims: z.ZodType;
  readonly shortcuts: Readonly<Record<string, Shortcut>>;
  /** Shortcuts naming ids that survive a rename; a publisher should pin one. */
  readonly immutableIds: readonly string[];
  /**
   * Shortcuts naming the tenant (organisation, workspace, account, service
   * account) on an issuer many tenants share. A publisher must pin one of
   * them with an exact value, or it would trust every tenant of the issuer.
   */
  readonly tenantKeys?: readonly string[];
  /** True when this exact issuer URL belongs to a single tenant (a per-org issuer configured exactly). */
  issuerNamesTenant?(url: string): boolean;
  /**
   * True when the platform's ids are unique across every issuer a pattern can
   * match (one platform with per-org URLs: CircleCI, Bitbucket), so pinning
   * an id is enough. Otherwise a pattern's concrete issuers are separate
   * instances whose ids collide (GitLab project 42 exists on each), and a
   * publisher must pin the segment itself unless it is bound to a claim.
   */
  readonly idsSpanIssuers?: boolean;
  /** Pattern segment names that must equal a claim, by segment name. */
  readonly issuerSegments?: Readonly<Record<string, IssuerSegmentBinding>>;
  /** JSON Pointers a publisher may never match, with the reason (a claim the job chooses). */
  readonly untrustedClaims?: Readonly<Record<string, string>>;
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
