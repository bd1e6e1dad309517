import { z } from "zod";
import { claimString, compact, str } from "./claims.js";
import type { Provider } from "./types.js";

/** Any OIDC issuer: no shortcuts, publishers match claims by JSON Pointer only. */
export const generic: Provider = {
  name: "generic",
  claims: z.object({ sub: claimString }),
  shortcuts: {},
  immutableIds: [],
  refuse: () => undefined,
  identity: (c) => ({ values: {}, act: compact({ sub: str(c.sub) }) }),
};
