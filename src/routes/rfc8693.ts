import { Hono } from "hono";
import {
  TrustpubError as Err,
  errorHeaders,
  publicReason,
  REASONS,
  type TrustpubError,
} from "../errors.js";
import { exchange } from "../exchange/exchange.js";
import { parseScope } from "../policy/grant.js";
import { readForm } from "./body.js";
import type { AppEnv, ErrorShape } from "./env.js";
import { tokenField } from "./schemas.js";

const GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";
const SUBJECT_TYPES = new Set([
  "urn:ietf:params:oauth:token-type:id_token",
  "urn:ietf:params:oauth:token-type:jwt",
]);
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/**
 * RFC 8693 section 2.2.2: an invalid or unacceptable subject token is
 * `invalid_request`; a bad audience or resource is `invalid_target`. Status
 * 400 as RFC 6749 section 5.2 requires, except 429 and 503, which keep theirs
 * so clients back off. `reason` is trustpub's own, as on every endpoint.
 */
export const oauthErrorShape: ErrorShape = (err: TrustpubError) => {
  const reason = publicReason(err.reason);
  let error: string;
  let status = 400;
  if (err.reason === "rate_limited" || err.reason === "unavailable" || err.reason === "internal") {
    error = REASONS[err.reason].error;
    status = err.status;
  } else if (
    err.reason === "invalid_target" ||
    err.reason === "scope_exceeded" ||
    err.reason === "unsupported_grant_type"
  ) {
    error = REASONS[err.reason].error;
  } else {
    error = "invalid_request";
  }
  const headers = errorHeaders(err);
  delete headers["WWW-Authenticate"];
  return Response.json({ error, error_description: err.message, reason }, { status, headers });
};

function field(form: Map<string, string>, name: string): string | undefined {
  const value = form.get(name);
  return value === undefined || value === "" ? undefined : value;
}

/** `POST /token`: OAuth 2.0 Token Exchange (RFC 8693) for CI tokens. */
export function rfc8693Routes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/token", async (c) => {
    c.set("errorShape", oauthErrorShape);
    const services = c.get("services");
    const form = await readForm(c, services.config.limits.body_bytes);
    const grantType = field(form, "grant_type");
    if (grantType === undefined) throw new Err("malformed_request", "grant_type is required");
    if (grantType !== GRANT_TYPE)
      throw new Err("unsupported_grant_type", "only the token-exchange grant is supported");
    const subjectToken = field(form, "subject_token");
    if (subjectToken === undefined) throw new Err("malformed_request", "subject_token is required");
    if (!tokenField.safeParse(subjectToken).success)
      throw new Err("malformed_request", "subject_token is not a token");
    const subjectType = field(form, "subject_token_type");
    if (subjectType === undefined || !SUBJECT_TYPES.has(subjectType)) {
      throw new Err(
        "malformed_request",
        "subject_token_type must be an id_token or jwt token type",
      );
    }
    if (form.has("actor_token")) throw new Err("malformed_request", "actor_token is not supported");
    const requested = field(form, "requested_token_type");
    if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) {
      throw new Err("malformed_request", "requested_token_type must be the access_token type");
    }
    const audience = field(form, "audience");
    const resource = field(form, "resource");
    if (audience !== undefined && resource !== undefined && audience !== resource) {
      throw new Err("invalid_target", "audience and resource name different targets");
    }
    const scopeText = field(form, "scope");
    const scope = scopeText === undefined ? undefined : parseScope(scopeText);
    if (scopeText !== undefined && scope === undefined)
      throw new Err("scope_exceeded", "scope holds an unknown permission");

    const result = await exchange(services.exchangeDeps(), {
      token: subjectToken,
      packages: scope?.packages.length ? scope.packages : undefined,
      permissions: scope?.permissions.length ? scope.permissions : undefined,
      targetAudience: audience ?? resource,
      endpoint: "rfc8693",
      client: c.get("client"),
    });
    return c.json({
      access_token: result.token,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: "Bearer",
      expires_in: result.ttlSeconds,
      scope: result.scope,
    });
  });
  return app;
}
