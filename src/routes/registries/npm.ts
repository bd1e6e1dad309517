import { TrustpubError } from "../../errors.js";
import { bearerCredential } from "../../lib/authorization.js";
import { npmNameAt } from "../../policy/npm-name.js";
import type { ErrorShape } from "../env.js";
import { compatExchange } from "./exchange.js";
import { compatHeaders } from "./shape.js";
import type { CompatProtocol } from "./types.js";

/**
 * npm's error body: `{"message": "OIDC token exchange error - ..."}`, which
 * the npm CLI logs. The status is trustpub's own.
 */
export const npmErrorShape: ErrorShape = (err) =>
  Response.json(
    { message: `OIDC token exchange error - ${err.message}` },
    { status: err.status, headers: compatHeaders(err, err.status) },
  );

/**
 * npm (CLI 11.5 and later): `POST /-/npm/v1/oidc/token/exchange/package/{name}`
 * with the CI token as `Authorization: Bearer`, no body; 201 `{"token"}`.
 * The issued token covers the package in the path only. The CLI resolves
 * this path against the registry's host, so the registry's mount is `/`.
 */
export const npmProtocol: CompatProtocol = {
  flavor: "npm",
  errorShape: npmErrorShape,
  endpoints: [
    {
      method: "POST",
      path: /^\/-\/npm\/v1\/oidc\/token\/exchange\/package\/(.+)$/,
      async handle(request) {
        const segments = request.match[1]!.split("/");
        const named = npmNameAt(segments);
        if (named === undefined || named.used !== segments.length) {
          throw new TrustpubError("malformed_request", "the path does not name an npm package");
        }
        const token = bearerCredential(request.c.req.header("authorization"));
        if (token === undefined) {
          throw new TrustpubError(
            "unauthorized",
            "an Authorization: Bearer header holding the CI token is required",
          );
        }
        const result = await compatExchange(request, "npm", token, [named.name]);
        return request.c.json({ token: result.token }, 201);
      },
    },
  ],
};
