import type { TrustpubError } from "../errors.js";
import type { Services } from "../services.js";

/** Turns a refusal into the answer of one ecosystem's protocol (npm, PyPI, ...). */
export type ErrorShape = (err: TrustpubError) => Response;

/** Typed context variables of every request. */
export interface AppEnv {
  Variables: {
    services: Services;
    /** The caller's address, as the edge reports it (and trusted proxies vouch for). */
    client: string | undefined;
    /** The request target exactly as received, before URL parsing resolved dot segments. */
    target: string | undefined;
    /** Set by a route whose protocol has its own error body; the one mapper uses it. */
    errorShape: ErrorShape | undefined;
    /** The admin caller (a fingerprint of its token), once the admin API authenticated it. */
    adminActor: string | undefined;
  };
}
