/**
 * The one error type of trustpub and the one mapper from it to HTTP.
 *
 * Every refusal is a `TrustpubError` with a fixed `reason` (SPEC section 5).
 * Callers switch on `reason`, never on messages. `description` is safe to show
 * to the caller: it names the check that failed, never a policy value or a
 * token. Details for operators go in `cause` and into the logs.
 */
export const REASONS = {
  malformed_request: { status: 400, error: "invalid_request" },
  unsupported_media_type: { status: 415, error: "invalid_request" },
  payload_too_large: { status: 413, error: "invalid_request" },
  malformed_token: { status: 401, error: "invalid_token" },
  untrusted_issuer: { status: 401, error: "invalid_token" },
  invalid_signature: { status: 401, error: "invalid_token" },
  invalid_claims: { status: 401, error: "invalid_token" },
  missing_claim: { status: 401, error: "invalid_token" },
  invalid_target: { status: 400, error: "invalid_target" },
  unsupported_grant_type: { status: 400, error: "unsupported_grant_type" },
  no_matching_publisher: { status: 403, error: "access_denied" },
  forbidden_event: { status: 403, error: "access_denied" },
  scope_exceeded: { status: 403, error: "invalid_scope" },
  unauthorized: { status: 401, error: "invalid_client" },
  /** An issued token presented to authz, revocation or a registry is not valid there. */
  invalid_token: { status: 401, error: "invalid_token" },
  not_found: { status: 404, error: "not_found" },
  replayed_token: { status: 409, error: "invalid_request" },
  conflict: { status: 409, error: "conflict" },
  rate_limited: { status: 429, error: "temporarily_unavailable" },
  unavailable: { status: 503, error: "temporarily_unavailable" },
  internal: { status: 500, error: "server_error" },
} as const satisfies Record<string, { status: number; error: string }>;

export type Reason = keyof typeof REASONS;

/**
 * The reason a body-level problem is reported under. 413 and 415 are
 * `malformed_request` to callers (SPEC section 5) with their own status.
 */
export function publicReason(reason: Reason): Reason {
  return reason === "unsupported_media_type" ||
    reason === "payload_too_large" ||
    reason === "unsupported_grant_type"
    ? "malformed_request"
    : reason;
}

export class TrustpubError extends Error {
  override readonly name = "TrustpubError";
  readonly reason: Reason;
  /** Seconds, for 429 and 503 answers. */
  readonly retryAfter: number | undefined;

  constructor(
    reason: Reason,
    description: string,
    options?: { cause?: unknown; retryAfter?: number },
  ) {
    super(description, options?.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.retryAfter = options?.retryAfter;
  }

  get status(): number {
    return REASONS[this.reason].status;
  }
}

export function isTrustpubError(value: unknown): value is TrustpubError {
  return value instanceof TrustpubError;
}

/** Anything that is not a TrustpubError is an internal error: nothing of it is shown. */
export function asTrustpubError(value: unknown): TrustpubError {
  if (isTrustpubError(value)) return value;
  return new TrustpubError("internal", "internal error", { cause: value });
}

export interface ErrorBody {
  error: string;
  error_description: string;
  reason: Reason;
}

/** The native body: `{"error", "error_description", "reason"}`. */
export function errorBody(err: TrustpubError): ErrorBody {
  const reason = publicReason(err.reason);
  return { error: REASONS[err.reason].error, error_description: err.message, reason };
}

/** Headers every error answer carries (Retry-After on 429/503, WWW-Authenticate on 401). */
export function errorHeaders(err: TrustpubError): Record<string, string> {
  const headers: Record<string, string> = { "Cache-Control": "no-store" };
  if (err.retryAfter !== undefined)
    headers["Retry-After"] = String(Math.max(1, Math.ceil(err.retryAfter)));
  if (err.status === 401 && err.reason !== "unauthorized") {
    headers["WWW-Authenticate"] = 'Bearer error="invalid_token"';
  }
  return headers;
}
