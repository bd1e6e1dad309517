/**
 * Parses JSON and refuses duplicate member names at any depth. RFC 7515
 * section 5.2 and RFC 8725 leave a parser two choices for duplicates: refuse,
 * or take the last. Refusing keeps every reader of a token in agreement.
 */
export function parseJsonStrict(
  text: string,
): { ok: true; value: unknown } | { ok: false; why: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, why: "not JSON" };
  }
  return hasDuplicateKeys(text)
    ? { ok: false, why: "duplicate member names" }
    : { ok: true, value };
}

const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }
const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Scans text that JSON.parse accepted, tracking member names per object.
 * Names are compared decoded (`"a"` and `"\u0061"` are the same member); a
 * name without escapes is its own decoding, so only escaped names are parsed.
 */
function hasDuplicateKeys(text: string): boolean {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === OPEN_OBJECT) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === OPEN_ARRAY) {
      stack.push(null);
      expectKey = false;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      stack.pop();
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = stack.at(-1) instanceof Set;
    } else if (c === QUOTE) {
      // The closing quote: the next one not escaped by an odd run of backslashes.
      let end = i;
      for (;;) {
        end = text.indexOf('"', end + 1);
        let before = end - 1;
        while (text.charCodeAt(before) === BACKSLASH) before--;
        if ((end - 1 - before) % 2 === 0) break;
      }
      if (expectKey) {
        const keys = stack.at(-1) as Set<string>;
        const raw = text.slice(i + 1, end);
        const name = raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (keys.has(name)) return true;
        keys.add(name);
        expectKey = false;
      }
      i = end;
    }
  }
  return false;
}
