import { z } from "zod";
import { TrustpubError } from "../../errors.js";
import { bearerCredential } from "../../lib/authorization.js";
import { readJsonObject } from "../body.js";
import type { ErrorShape } from "../env.js";
import { parseBody } from "../schemas.js";
import { compatExchange } from "./exchange.js";
import { compatHeaders, isoSeconds, keepsStatus } from "./shape.js";
import type { CompatProtocol } from "./types.js";

/**
 * NuGet's error body: `{"error": "..."}` with 400, 401 (and
 * `WWW-Authenticate: Bearer`) or 415. Every refusal of the token or of the
 * policy is a 401, as nuget.org answers it.
 */
export const nugetErrorShape: ErrorShape = (err) => {
  let status = 401;
  if (keepsStatus(err) || err.status === 413 || err.status === 415) status = err.status;
  else if (err.status === 400) status = 400;
  const headers = compatHeaders(err, status);
  if (status === 401) headers["WWW-Authenticate"] ??= "Bearer";
  return Response.json({ error: err.message }, { status, headers });
};

const tokenRequest = z.object({
  username: z.string().min(1).max(256),
  token_type: z.literal("api_key", { error: 'expected "api_key"' }),
});

/**
 * NuGet.org: `POST /api/v2/token` with the CI token as `Authorization:
 * Bearer` and `{"username", "token_type": "api_key"}` answers 200
 * `{"token_type": "api_key", "expires", "api_key"}`. trustpub has no user
 * accounts: `username` is required, as NuGet/login sends it, and not used.
 * A push names the package only in the uploaded file, so the key covers all
 * the publishers grant.
 */
export const nugetProtocol: CompatProtocol = {
  flavor: "nuget",
  errorShape: nugetErrorShape,
  endpoints: [
    {
      method: "POST",
      path: /^\/api\/v2\/token$/,
      async handle(request) {
        const { c, services } = request;
        if (!c.req.header("user-agent")?.trim()) {
          throw new TrustpubError("malformed_request", "a User-Agent header is required");
        }
        const token = bearerCredential(c.req.header("authorization"));
        if (token === undefined) {
          throw new TrustpubError(
            "unauthorized",
            "an Authorization: Bearer header holding the CI token is required",
          );
        }
        parseBody(tokenRequest, await readJsonObject(c, services.config.limits.body_bytes));
        const result = await compatExchange(request, "nuget", token);
        return c.json({
          token_type: "api_key",
          expires: isoSeconds(result.exp),
          api_key: result.token,
        });
      },
    },
  ],
};
