import type { MiddlewareHandler } from "hono";
import { formatAddress } from "../limits/client-address.js";
import type { AppEnv } from "./env.js";

/**
 * The exchange endpoints of SPEC section 4, wherever a registry's compatible
 * routes are mounted: trustpub's own, RFC 8693, and each flavor's.
 */
const EXCHANGE_EXACT = new Set(["/v1/exchange", "/token"]);
const EXCHANGE_SUFFIXES = [
  "/_/oidc/mint-token",
  "/api/v1/trusted_publishing/tokens",
  "/api/v1/oidc/trusted_publisher/exchange_token",
  "/api/v2/token",
];
const NPM_EXCHANGE = "/-/npm/v1/oidc/token/exchange/package/";

export function isExchangeRequest(method: string, path: string): boolean {
  if (method !== "POST") return false;
  return (
    EXCHANGE_EXACT.has(path) ||
    path.includes(NPM_EXCHANGE) ||
    EXCHANGE_SUFFIXES.some((suffix) => path.endsWith(suffix))
  );
}

/**
 * Resolves the caller's address (through trusted proxies only) for every
 * request, and refuses an exchange from a client over its rate before the
 * body is read or any token is looked at.
 */
export function clientRateLimit(): MiddlewareHandler<AppEnv> {
  return async function clientRateLimit(c, next) {
    const limits = c.get("services").limits;
    const client = limits.clientOf(c.get("client"), c.req.header("x-forwarded-for"));
    if (client !== undefined) c.set("client", formatAddress(client));
    if (isExchangeRequest(c.req.method, c.req.path)) await limits.checkClient(client);
    await next();
  };
}
