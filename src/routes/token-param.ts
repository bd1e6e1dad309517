import type { Context } from "hono";
import { TrustpubError } from "../errors.js";
import { mediaType, readForm, readJsonObject } from "./body.js";

/**
 * The `token` parameter of an introspection (RFC 7662 section 2.1) or
 * revocation (RFC 7009 section 2.1) request: form-encoded as those RFCs
 * define, or a JSON object as trustpub's other endpoints take. Its content is
 * not judged here: a garbage token is an inactive token, not a bad request.
 */
export async function readTokenParam(c: Context, limit: number): Promise<string> {
  let token: unknown;
  if (mediaType(c) === "application/x-www-form-urlencoded") {
    token = (await readForm(c, limit)).get("token");
  } else {
    token = (await readJsonObject(c, limit)).token;
  }
  if (typeof token !== "string" || token.length === 0) {
    throw new TrustpubError("malformed_request", "token is required");
  }
  return token;
}
