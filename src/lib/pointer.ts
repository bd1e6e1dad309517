/**
 * RFC 6901 JSON Pointer evaluation over a decoded JWT payload.
 * "/kubernetes.io/namespace" reads payload["kubernetes.io"]["namespace"];
 * "~1" stands for "/" and "~0" for "~" inside a member name.
 */
export function isPointer(key: string): boolean {
  return key.startsWith("/");
}

export function parsePointer(pointer: string): string[] | undefined {
  if (!pointer.startsWith("/")) return undefined;
  const tokens = pointer.slice(1).split("/");
  for (const token of tokens) if (/~(?![01])/.test(token)) return undefined;
  return tokens.map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"));
}

export function resolvePointer(value: unknown, tokens: readonly string[]): unknown {
  let current: unknown = value;
  for (const token of tokens) {
    if (current === null || typeof current !== "object") return undefined;
    if (Array.isArray(current)) {
      if (!/^(0|[1-9]\d*)$/.test(token)) return undefined;
      current = current[Number(token)];
    } else {
      if (!Object.hasOwn(current, token)) return undefined;
      current = (current as Record<string, unknown>)[token];
    }
  }
  return current;
}
