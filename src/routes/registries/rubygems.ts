import type { Reason } from "../../errors.js";
import type { Permission } from "../../policy/packages.js";
import type { ErrorShape } from "../env.js";
import { compatExchange, tokenFromBody } from "./exchange.js";
import { compatHeaders, isoSeconds, keepsStatus } from "./shape.js";
import type { CompatProtocol } from "./types.js";

/** RubyGems answers 404 when no trusted publisher (or issuer) fits, 400 for anything wrong with the JWT. */
const NOT_FOUND: ReadonlySet<Reason> = new Set([
  "untrusted_issuer",
  "no_matching_publisher",
  "forbidden_event",
  "scope_exceeded",
]);

/** RubyGems' error body: `{"error": "..."}`. */
export const rubygemsErrorShape: ErrorShape = (err) => {
  let status = 400;
  if (keepsStatus(err) || err.status === 413 || err.status === 415) status = err.status;
  else if (NOT_FOUND.has(err.reason)) status = 404;
  return Response.json({ error: err.message }, { status, headers: compatHeaders(err, status) });
};

/** RubyGems API key scopes for trustpub's permissions. */
const SCOPES: Record<Permission, string> = {
  publish: "push_rubygem",
  yank: "yank_rubygem",
  read: "index_rubygems",
};

/**
 * RubyGems.org: `POST /api/v1/oidc/trusted_publisher/exchange_token` with
 * `{"jwt"}` answers 201 `{"rubygems_api_key", "name", "scopes", "gem",
 * "expires_at"}`. `gem push` names the gem only in the uploaded file, so the
 * key covers all the publishers grant; `gem` names it when that is one gem.
 */
export const rubygemsProtocol: CompatProtocol = {
  flavor: "rubygems",
  errorShape: rubygemsErrorShape,
  endpoints: [
    {
      method: "POST",
      path: /^\/api\/v1\/oidc\/trusted_publisher\/exchange_token$/,
      async handle(request) {
        const token = await tokenFromBody(request, "jwt");
        const result = await compatExchange(request, "rubygems", token);
        const only = result.packages.length === 1 ? result.packages[0]! : undefined;
        return request.c.json(
          {
            rubygems_api_key: result.token,
            name: `trustpub ${result.publishers.join(", ")}`,
            scopes: result.permissions.map((p) => SCOPES[p]),
            gem: only !== undefined && !only.includes("*") ? only : null,
            expires_at: isoSeconds(result.exp),
          },
          201,
        );
      },
    },
  ],
};
