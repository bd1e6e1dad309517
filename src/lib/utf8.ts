/**
 * Decodes UTF-8 and throws on any malformed byte sequence, never replacing
 * it with U+FFFD: a token or body that is not valid UTF-8 is refused, not
 * read two ways. One decoder serves every caller (without `stream` it keeps
 * no state between calls).
 */
export const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
