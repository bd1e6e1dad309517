import { z } from "zod";
import { asciiLower } from "../lib/ascii.js";
import { claimString, compact, str } from "./claims.js";
import type { Identity, Provider } from "./types.js";

/**
 * Google service-account ID tokens (`https://accounts.google.com`): from the
 * metadata server (`identity?audience=`), IAM Credentials `generateIdToken`,
 * or `gcloud auth print-identity-token --audiences`.
 * Docs: https://cloud.google.com/docs/authentication/token-types#id
 *
 * `sub` is the service account's numeric unique id, which survives nothing
 * but itself: a deleted and re-created account keeps its email and gets a
 * new `sub`. The issuer is shared with every Google account, people included.
 */
const claims = z.object({
  sub: z.string().regex(/^[0-9]{1,32}$/, "expected a numeric account id"),
  email: claimString,
  email_verified: z.boolean(),
  azp: claimString.optional(),
});

const SERVICE_ACCOUNT = /@([a-z0-9-]+\.)*gserviceaccount\.com$/;

export const google: Provider = {
  name: "google",
  claims,
  shortcuts: {
    email: { caseInsensitive: true, claim: "/email" },
    email_verified: { claim: "/email_verified", valueType: "boolean" },
    sub: { claim: "/sub" },
  },
  immutableIds: ["sub"],
  tenantKeys: ["email", "sub"],

  refuse(c, issuer) {
    if (c.email_verified !== true) return "the token's email is not verified";
    const email = asciiLower(str(c.email) ?? "");
    if (!SERVICE_ACCOUNT.test(email) && !issuer.allowEvents.includes("user_account")) {
      return "only service accounts may publish unless the issuer lists user_account in allow_events";
    }
    return undefined;
  },

  identity(c): Identity {
    return {
      values: {
        email: str(c.email),
        email_verified: c.email_verified,
        sub: c.sub,
      },
      act: compact({ email: str(c.email), sub: str(c.sub), azp: str(c.azp) }),
    };
  },
};
