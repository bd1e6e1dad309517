/**
 * Issuer URLs with one named segment, such as
 * `https://oidc.circleci.com/org/{org_id}`. The segment matches
 * `[A-Za-z0-9_-]{1,128}` only (never `/`, `?`, `#`, `.`, `%`, `@` or `:`),
 * and the whole URL is anchored, so a pattern can never be stretched into
 * another host or path (Sigstore Fulcio's SSRF, GHSA-59jp-pj84-45mr, came
 * from an unanchored issuer pattern). Matching is a pure string test: it
 * happens before any network I/O, and only a matching `iss` is ever fetched.
 *
 * Where the segment may stand, checked when the config loads:
 * - anywhere in the path (`/org/{org_id}`, `/workspaces/{workspace}/...`);
 * - in the host only as one whole label with at least two fixed labels to
 *   its right (`https://{org}.semaphoreci.com`), so it can pick a subdomain
 *   of a fixed domain but never the host itself (`https://{host}/` would
 *   trust `https://localhost/`) nor a port or credentials.
 */
export interface IssuerPattern {
  /** The segment's name: `org_id` for `{org_id}`. */
  readonly name: string;
  /** The segment's value when `iss` matches the whole pattern, else undefined. */
  match(iss: string): string | undefined;
}

const SEGMENT = /\{([a-z][a-z0-9_]{0,31})\}/g;
const SEGMENT_VALUE = "[A-Za-z0-9_-]{1,128}";
/** Stands in for the segment while the rest of the pattern is checked as a URL. */
const MARKER = "trustpubsegmentmarker";

export class IssuerPatternError extends Error {
  override readonly name = "IssuerPatternError";
}

export function isIssuerPattern(url: string): boolean {
  return url.includes("{") || url.includes("}");
}

export function compileIssuerPattern(url: string): IssuerPattern {
  const names = [...url.matchAll(SEGMENT)].map((m) => m[1]!);
  if (names.length !== 1) {
    throw new IssuerPatternError(
      "an issuer pattern must hold exactly one {name} segment (a lower-case name such as {org_id})",
    );
  }
  const name = names[0]!;
  const [before, after] = url.split(`{${name}}`) as [string, string];
  if (/[{}]/.test(before) || /[{}]/.test(after)) {
    throw new IssuerPatternError("an issuer pattern must hold exactly one {name} segment");
  }
  checkPlacement(`${before}${MARKER}${after}`);
  const re = new RegExp(`^${escapeRegex(before)}(${SEGMENT_VALUE})${escapeRegex(after)}$`);
  return {
    name,
    match(iss) {
      return re.exec(iss)?.[1];
    },
  };
}

/** The pattern's URL with its segment filled, to check the rest is a valid URL. */
export function exampleIssuerUrl(url: string): string {
  return url.replace(SEGMENT, MARKER);
}

function checkPlacement(example: string): void {
  let parsed: URL;
  try {
    parsed = new URL(example);
  } catch {
    throw new IssuerPatternError("expected an absolute URL with one {name} segment");
  }
  // The pattern must already be in the form a URL parser gives it back, so
  // the string that is matched is the URL that is fetched (no `..`, no
  // upper-case host, no default port, no percent-escapes to be decoded).
  const canonical = parsed.href === example || parsed.href === `${example}/`;
  if (!canonical) {
    throw new IssuerPatternError(
      "must be written in canonical form (lower-case host, no default port, no '.' or '..' path segments, no escapes)",
    );
  }
  if (parsed.username.includes(MARKER) || parsed.password.includes(MARKER)) {
    throw new IssuerPatternError("the {name} segment may not stand in credentials");
  }
  if (
    parsed.port.includes(MARKER) ||
    parsed.search.includes(MARKER) ||
    parsed.hash.includes(MARKER)
  ) {
    throw new IssuerPatternError(
      "the {name} segment may stand only in the path or as a host label",
    );
  }
  if (!parsed.hostname.includes(MARKER)) return;
  const labels = parsed.hostname.split(".");
  const at = labels.indexOf(MARKER);
  if (at === -1) {
    throw new IssuerPatternError("the {name} segment must be a whole host label, not part of one");
  }
  if (labels.length - at - 1 < 2) {
    throw new IssuerPatternError(
      "the {name} segment in a host needs at least two fixed labels to its right (https://{org}.ci.example)",
    );
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}
