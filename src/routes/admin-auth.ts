import type { MiddlewareHandler } from "hono";
import { TrustpubError } from "../errors.js";
import { constantTimeEqual } from "../lib/constant-time.js";
import { sha256Hex } from "../lib/sha256.js";
import type { AppEnv } from "./env.js";

/** Longest bearer token hashed; admin tokens are short random strings. */
const MAX_ADMIN_TOKEN = 1024;

/**
 * The admin caller, as the first 12 hex digits of its token's SHA-256, or
 * undefined. The token is hashed and compared with every configured hash in
 * constant time; the config never holds an admin token itself.
 */
export async function adminActor(
  authorization: string | undefined,
  hashes: readonly string[],
): Promise<string | undefined> {
  const match = /^Bearer ([\x21-\x7e]+)$/i.exec(authorization ?? "");
  if (!match || match[1]!.length > MAX_ADMIN_TOKEN || hashes.length === 0) return undefined;
  const presented = await sha256Hex(match[1]!);
  let found = false;
  for (const hash of hashes) found = constantTimeEqual(presented, hash) || found;
  return found ? presented.slice(0, 12) : undefined;
}

/** Requires an admin bearer token; audits refusals; sets `adminActor`. */
export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async function requireAdmin(c, next) {
    const services = c.get("services");
    const actor = await adminActor(
      c.req.header("authorization"),
      services.config.admin.token_sha256,
    );
    if (actor === undefined) {
      services.runtime.audit.emit({
        type: "trustpub.admin",
        time: new Date(services.runtime.clock.now()).toISOString(),
        outcome: "refused",
        reason: "unauthorized",
        endpoint: "admin",
        action: "authenticate",
        client: c.get("client"),
      });
      throw new TrustpubError(
        "unauthorized",
        services.config.admin.token_sha256.length === 0
          ? "the admin API is off: no admin.token_sha256 is configured"
          : "an admin bearer token is required",
      );
    }
    c.set("adminActor", actor);
    await next();
  };
}
