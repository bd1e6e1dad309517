import { Hono } from "hono";
import { errorBody, errorHeaders, TrustpubError } from "../errors.js";
import { bearerCredential } from "../lib/authorization.js";
import { matchesAnySecret } from "../lib/secret.js";
import type { Services } from "../services.js";
import { activeIssuedToken, issuedFor } from "../tokens/revocation.js";
import type { IssuedToken } from "../tokens/verify-issued.js";
import type { AppEnv, ErrorShape } from "./env.js";
import { readTokenParam } from "./token-param.js";

/** RFC 7662 section 2.3: a failed client authentication is a 401 with a challenge. */
const introspectErrorShape: ErrorShape = (err) => {
  const headers = errorHeaders(err);
  if (err.reason === "unauthorized") headers["WWW-Authenticate"] = 'Bearer realm="trustpub"';
  return Response.json(errorBody(err), { status: err.status, headers });
};

/** The registry whose introspection secret the caller presented, or a 401. */
async function callingRegistry(services: Services, header: string | undefined): Promise<string> {
  const secret = bearerCredential(header);
  if (secret !== undefined) {
    for (const [id, secrets] of Object.entries(services.loaded.introspectionSecrets)) {
      if (await matchesAnySecret(secret, secrets)) return id;
    }
  }
  throw new TrustpubError(
    "unauthorized",
    "introspection needs a registry's introspection secret as a Bearer token",
  );
}

/** RFC 7662 section 2.2 members, plus trustpub's grant and the verified CI facts in `act`. */
function activeAnswer(issued: IssuedToken): Record<string, unknown> {
  return {
    active: true,
    iss: issued.iss,
    sub: issued.sub,
    aud: issued.aud,
    client_id: issued.client_id,
    scope: issued.scope,
    token_type: "Bearer",
    exp: issued.exp,
    iat: issued.iat,
    jti: issued.jti,
    registry: issued.registry,
    publishers: issued.publishers,
    packages: issued.packages,
    permissions: issued.permissions,
    act: issued.act,
  };
}

/**
 * `POST /v1/introspect` (RFC 7662). The caller is a registry, authenticated
 * by its introspection secret; it learns about its own tokens only. Garbage,
 * expired, revoked, foreign or other registries' tokens all answer exactly
 * `{"active": false}` (section 2.2), never why.
 */
export function introspectRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/v1/introspect", async (c) => {
    c.set("errorShape", introspectErrorShape);
    const services = c.get("services");
    const registryId = await callingRegistry(services, c.req.header("authorization"));
    const token = await readTokenParam(c, services.config.limits.body_bytes);
    const issued = await activeIssuedToken(
      {
        verify: services.verifyIssued,
        replay: services.replay,
        keyPrefix: services.config.replay.key_prefix,
      },
      token,
    );
    const registry = services.config.registries[registryId]!;
    if (issued === undefined || !issuedFor(issued, registryId, registry)) {
      return c.json({ active: false });
    }
    return c.json(activeAnswer(issued));
  });
  return app;
}
