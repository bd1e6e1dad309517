/** The request a proxy asks about. */
export interface OriginalRequest {
  readonly method: string;
  readonly uri: string;
}

export type OriginalResult =
  | { readonly ok: true; readonly request: OriginalRequest }
  | { readonly ok: false; readonly why: "missing" | "incomplete" | "conflict" };

/**
 * The original method and URI, from wherever the proxy put them: nginx's
 * `X-Original-Method`/`X-Original-URI`, Traefik's
 * `X-Forwarded-Method`/`X-Forwarded-Uri`, or Envoy's check request itself
 * (its method, and its path below the authz prefix). A client can add any of
 * these headers and some proxies pass them through, so every source present
 * must describe the same request; any disagreement is refused.
 */
export function originalRequest(
  header: (name: string) => string | undefined,
  envoy: OriginalRequest | undefined,
): OriginalResult {
  const sources: OriginalRequest[] = [];
  for (const [methodHeader, uriHeader] of [
    ["x-original-method", "x-original-uri"],
    ["x-forwarded-method", "x-forwarded-uri"],
  ] as const) {
    const method = header(methodHeader);
    const uri = header(uriHeader);
    if (method === undefined && uri === undefined) continue;
    if (method === undefined || uri === undefined) return { ok: false, why: "incomplete" };
    sources.push({ method: method.trim(), uri: uri.trim() });
  }
  if (envoy !== undefined) sources.push(envoy);
  const first = sources[0];
  if (first === undefined) return { ok: false, why: "missing" };
  for (const other of sources) {
    if (other.method !== first.method || other.uri !== first.uri)
      return { ok: false, why: "conflict" };
  }
  return { ok: true, request: first };
}
