import type { Reason } from "../../errors.js";
import type { ErrorShape } from "../env.js";
import { compatExchange, tokenFromBody } from "./exchange.js";
import { compatHeaders, keepsStatus } from "./shape.js";
import type { CompatProtocol } from "./types.js";

/** Warehouse's error codes for a refused mint; reasons with no PyPI code use their own name. */
const CODES: Partial<Record<Reason, string>> = {
  malformed_request: "invalid-payload",
  unsupported_media_type: "invalid-payload",
  payload_too_large: "invalid-payload",
  malformed_token: "invalid-token",
  untrusted_issuer: "invalid-token",
  invalid_signature: "invalid-token",
  invalid_claims: "invalid-token",
  missing_claim: "invalid-token",
  no_matching_publisher: "invalid-publisher",
  forbidden_event: "invalid-publisher",
  scope_exceeded: "invalid-publisher",
  replayed_token: "invalid-reuse-token",
};

/**
 * PyPI's error body: 422 `{"message": "Token request failed", "errors":
 * [{"code", "description"}]}`, which pypa/gh-action-pypi-publish prints
 * line by line. 429 and 5xx keep their status (with the same body shape).
 */
export const pypiErrorShape: ErrorShape = (err) => {
  const status = keepsStatus(err) ? err.status : 422;
  const code = CODES[err.reason] ?? err.reason.replaceAll("_", "-");
  return Response.json(
    { message: "Token request failed", errors: [{ code, description: err.message }] },
    { status, headers: compatHeaders(err, status) },
  );
};

/**
 * PyPI (Warehouse): `GET /_/oidc/audience` tells the publish action which
 * audience to request; `POST /_/oidc/mint-token` with `{"token"}` answers
 * 200 `{"success": true, "token", "expires"}`. The upload names the
 * package only in its body, so the token covers all the publishers grant.
 */
export const pypiProtocol: CompatProtocol = {
  flavor: "pypi",
  errorShape: pypiErrorShape,
  endpoints: [
    {
      method: "GET",
      path: /^\/_\/oidc\/audience$/,
      handle: async ({ c, registry }) => c.json({ audience: registry.audience }),
    },
    {
      method: "POST",
      path: /^\/_\/oidc\/mint-token$/,
      async handle(request) {
        const token = await tokenFromBody(request, "token");
        const result = await compatExchange(request, "pypi", token);
        return request.c.json({ success: true, token: result.token, expires: result.exp });
      },
    },
  ],
};
