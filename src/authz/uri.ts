import { decodeSegment } from "../policy/npm-name.js";

/** An original request URI, split for derivation: raw path segments and the query. */
export interface OriginalUri {
  /** Raw (still percent-encoded) segments; a trailing slash leaves a last empty segment. */
  readonly segments: readonly string[];
  readonly query: URLSearchParams;
}

const MAX_URI = 8192;

/**
 * Splits the URI the proxy reports, without normalising it: the upstream
 * sees the same raw URI, so anything the two could read differently (dot
 * segments, empty segments, backslashes, control characters, broken
 * escapes) is refused rather than guessed at.
 */
export function parseOriginalUri(uri: string): OriginalUri | undefined {
  if (uri.length > MAX_URI || !uri.startsWith("/") || !/^[\x21-\x7e]+$/.test(uri)) return undefined;
  const end = uri.search(/[?#]/);
  const path = end === -1 ? uri : uri.slice(0, end);
  const query = end === -1 || uri[end] === "#" ? "" : uri.slice(end + 1).split("#")[0]!;
  const segments = path.slice(1).split("/");
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment === "" && i !== segments.length - 1) return undefined;
    const decoded = decodeSegment(segment);
    if (decoded === undefined || decoded === "." || decoded === "..") return undefined;
    if (decoded.includes("\\") || hasControl(decoded)) return undefined;
  }
  return { segments, query: new URLSearchParams(query) };
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
