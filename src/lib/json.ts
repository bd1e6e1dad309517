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

/** Scans text that JSON.parse accepted, tracking member names per object. */
function hasDuplicateKeys(text: string): boolean {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{") {
      stack.push(new Set());
      expectKey = true;
    } else if (c === "[") {
      stack.push(null);
      expectKey = false;
    } else if (c === "}" || c === "]") {
      stack.pop();
      expectKey = false;
    } else if (c === ",") {
      expectKey = stack.at(-1) instanceof Set;
    } else if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      if (expectKey) {
        const keys = stack.at(-1) as Set<string>;
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(name)) return true;
        keys.add(name);
        expectKey = false;
      }
      i = end;
    }
  }
  return false;
}
