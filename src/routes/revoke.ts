import { Hono } from "hono";
import { sha256Hex } from "../lib/sha256.js";
import type { Services } from "../services.js";
import { revokeIssuedToken } from "../tokens/revocation.js";
import type { IssuedToken } from "../tokens/verify-issued.js";
import type { AppEnv } from "./env.js";
import { readTokenParam } from "./token-param.js";

/**
 * Denylists an issued token on every replica until its `exp`, and records
 * one audit event (the token's jti and SHA-256, never the token).
 */
export async function revokeAndAudit(
  services: Services,
  token: string,
  issued: IssuedToken,
  endpoint: string,
  client: string | undefined,
): Promise<void> {
  const { config, runtime } = services;
  const fresh = await revokeIssuedToken(
    services.replay,
    config.replay.key_prefix,
    issued,
    config.defaults.clock_skew,
  );
  runtime.audit.emit({
    type: "trustpub.revoke",
    time: new Date(runtime.clock.now()).toISOString(),
    outcome: "success",
    reason: fresh ? undefined : "already_revoked",
    endpoint,
    client,
    registry: issued.registry,
    issued: { jti: issued.jti, sha256: await sha256Hex(token), exp: issued.exp },
  });
}

/**
 * `POST /v1/revoke` (RFC 7009): the holder of an issued token revokes it;
 * holding the token is the credential. The answer is 200 with an empty body
 * whether or not the token was valid (section 2.2), so it tells an attacker
 * nothing; a replay store that cannot record the revocation answers 503.
 */
export function revokeRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/v1/revoke", async (c) => {
    const services = c.get("services");
    const token = await readTokenParam(c, services.config.limits.body_bytes);
    const issued = await services.verifyIssued(token);
    if (issued !== undefined)
      await revokeAndAudit(services, token, issued, "revoke", c.get("client"));
    return c.body(null, 200);
  });
  return app;
}
