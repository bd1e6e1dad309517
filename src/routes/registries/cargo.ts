import { TrustpubError } from "../../errors.js";
import { bareCredential } from "../../lib/authorization.js";
import { issuedFor } from "../../tokens/revocation.js";
import type { ErrorShape } from "../env.js";
import { revokeAndAudit } from "../revoke.js";
import { compatExchange, tokenFromBody } from "./exchange.js";
import { compatHeaders } from "./shape.js";
import type { CompatProtocol } from "./types.js";

/** crates.io's error body: `{"errors": [{"detail": "..."}]}`, which cargo prints. */
export const cargoErrorShape: ErrorShape = (err) =>
  Response.json(
    { errors: [{ detail: err.message }] },
    { status: err.status, headers: compatHeaders(err, err.status) },
  );

const TOKENS = /^\/api\/v1\/trusted_publishing\/tokens$/;

/**
 * crates.io: `POST /api/v1/trusted_publishing/tokens` with `{"jwt"}` answers
 * 200 `{"token"}`; `DELETE` on the same path revokes the token it carries
 * (`Authorization: Bearer <token>` or the bare token, as cargo sends it), 204.
 * `cargo publish` names the crate only in its body, so the token covers all
 * the publishers grant.
 */
export const cargoProtocol: CompatProtocol = {
  flavor: "cargo",
  errorShape: cargoErrorShape,
  endpoints: [
    {
      method: "POST",
      path: TOKENS,
      async handle(request) {
        const token = await tokenFromBody(request, "jwt");
        const result = await compatExchange(request, "cargo", token);
        return request.c.json({ token: result.token });
      },
    },
    {
      method: "DELETE",
      path: TOKENS,
      async handle({ c, services, registryId, registry }) {
        const token = bareCredential(c.req.header("authorization"));
        const issued = token === undefined ? undefined : await services.verifyIssued(token);
        if (
          token === undefined ||
          issued === undefined ||
          !issuedFor(issued, registryId, registry)
        ) {
          throw new TrustpubError(
            "invalid_token",
            "the Authorization header must hold a token trustpub issued for this registry",
          );
        }
        await revokeAndAudit(services, token, issued, "cargo", c.get("client"));
        return c.body(null, 204);
      },
    },
  ],
};
