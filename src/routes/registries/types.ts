import type { Context } from "hono";
import type { RegistryConfig } from "../../config/schema.js";
import type { Flavor } from "../../policy/packages.js";
import type { Services } from "../../services.js";
import type { AppEnv, ErrorShape } from "../env.js";

/** One request to a registry-compatible endpoint, with the registry its mount selected. */
export interface CompatRequest {
  readonly c: Context<AppEnv>;
  readonly services: Services;
  readonly registryId: string;
  readonly registry: RegistryConfig;
  /** The endpoint's path pattern matched against the path below the mount. */
  readonly match: RegExpExecArray;
}

export interface CompatEndpoint {
  readonly method: "GET" | "POST" | "DELETE";
  /** Matched against the raw (still percent-encoded) path below the mount. */
  readonly path: RegExp;
  handle(request: CompatRequest): Promise<Response>;
}

/** An ecosystem's trusted-publishing protocol: its endpoints and its error body. */
export interface CompatProtocol {
  readonly flavor: Flavor;
  readonly errorShape: ErrorShape;
  readonly endpoints: readonly CompatEndpoint[];
}
