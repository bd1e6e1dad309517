import { strictUtf8 } from "./utf8.js";

/**
 * Reading credentials out of an `Authorization` header value. Scheme names
 * compare without case (RFC 9110 section 11.1); a credential is one token of
 * printable ASCII, anything else is treated as absent.
 */
const CREDENTIAL = /^[\x21-\x7e]+$/;

function split(header: string | undefined): { scheme: string; value: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^([A-Za-z][A-Za-z0-9._~+-]*) +(\S+)\s*$/.exec(header);
  if (!match) return undefined;
  return { scheme: match[1]!.toLowerCase(), value: match[2]! };
}

/** `Bearer <token>` (RFC 6750 section 2.1). */
export function bearerCredential(header: string | undefined): string | undefined {
  const parts = split(header);
  return parts?.scheme === "bearer" && CREDENTIAL.test(parts.value) ? parts.value : undefined;
}

/** `Basic base64(user:password)` (RFC 7617): the pair, or undefined. */
export function basicCredential(
  header: string | undefined,
): { user: string; password: string } | undefined {
  const parts = split(header);
  if (parts?.scheme !== "basic" || !/^[A-Za-z0-9+/]+={0,2}$/.test(parts.value)) return undefined;
  let text: string;
  try {
    const binary = atob(parts.value);
    const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
    text = strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
  const colon = text.indexOf(":");
  if (colon === -1) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * The header value itself, as cargo and the RubyGems CLI send an API key
 * (`Authorization: <key>`); a `Bearer ` prefix is accepted too.
 */
export function bareCredential(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const bearer = bearerCredential(header);
  if (bearer !== undefined) return bearer;
  const value = header.trim();
  return CREDENTIAL.test(value) ? value : undefined;
}
