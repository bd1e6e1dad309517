/**
 * Issuer URLs with one named segment, such as
 * `https://oidc.circleci.com/org/{org_id}`. The segment matches
 * `[A-Za-z0-9_-]{1,128}` only (never `/`, `?`, `#`, `.`, `@` or `:`), and the
 * whole URL is anchored, so a pattern can never be stretched into another
 * host or path (Sigstore Fulcio's SSRF, GHSA-59jp-pj84-45mr, came from an
 * unanchored issuer pattern).
 */
export interface IssuerPattern {
  readonly name: string;
  match(iss: string): string | undefined;
}

const SEGMENT = /\{([a-z][a-z0-9_]{0,31})\}/g;

export function isIssuerPattern(url: string): boolean {
  return url.includes("{");
}

export function compileIssuerPattern(url: string): IssuerPattern {
  const names = [...url.matchAll(SEGMENT)].map((m) => m[1]!);
  if (names.length !== 1) throw new Error("an issuer pattern must hold exactly one {name} segment");
  const [before, after] = url.split(SEGMENT[Symbol.split] ? `{${names[0]}}` : "") as [
    string,
    string,
  ];
  if (before.includes("{") || before.includes("}") || after.includes("{") || after.includes("}")) {
    throw new Error("an issuer pattern must hold exactly one {name} segment");
  }
  const re = new RegExp(`^${escapeRegex(before)}([A-Za-z0-9_-]{1,128})${escapeRegex(after)}$`);
  return {
    name: names[0]!,
    match(iss) {
      return re.exec(iss)?.[1];
    },
  };
}

/** The pattern's URL with its segment filled, to check the rest is a valid URL. */
export function exampleIssuerUrl(url: string): string {
  return url.replace(SEGMENT, "segment");
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}
