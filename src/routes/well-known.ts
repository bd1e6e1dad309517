import { Hono } from "hono";
import type { AppEnv } from "./env.js";

/** The public keys of issued tokens and the RFC 8414 metadata document. */
export function wellKnownRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/.well-known/jwks.json", (c) => c.json(c.get("services").keys.publicJwks()));
  app.get("/.well-known/oauth-authorization-server", (c) => {
    const base = c.get("services").config.issuer.replace(/\/$/, "");
    return c.json({
      issuer: c.get("services").config.issuer,
      token_endpoint: `${base}/token`,
      jwks_uri: `${base}/.well-known/jwks.json`,
      introspection_endpoint: `${base}/v1/introspect`,
      revocation_endpoint: `${base}/v1/revoke`,
      revocation_endpoint_auth_methods_supported: ["none"],
      grant_types_supported: ["urn:ietf:params:oauth:grant-type:token-exchange"],
      token_endpoint_auth_methods_supported: ["none"],
      response_types_supported: [],
      scopes_supported: ["publish", "read", "yank"],
    });
  });
  return app;
}
