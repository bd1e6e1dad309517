import { errorHeaders, publicReason, type TrustpubError } from "../../errors.js";

/**
 * Headers of an error answered in an ecosystem's shape with `status`: the
 * usual ones (Retry-After, Cache-Control, WWW-Authenticate on a 401 only)
 * plus `X-Trustpub-Reason`, so operators and tests see trustpub's reason
 * whatever body the client reads.
 */
export function compatHeaders(err: TrustpubError, status: number): Record<string, string> {
  const headers = errorHeaders(err);
  if (status !== 401) delete headers["WWW-Authenticate"];
  return { ...headers, "X-Trustpub-Reason": publicReason(err.reason) };
}

/** 429, 503 and 500 keep their status in every protocol, so clients back off or retry. */
export function keepsStatus(err: TrustpubError): boolean {
  return err.reason === "rate_limited" || err.reason === "unavailable" || err.reason === "internal";
}

/** `2026-11-25T12:00:00Z` from seconds since the epoch. */
export function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}
