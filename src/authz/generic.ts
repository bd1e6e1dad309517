import { type Deriver, normalMethod } from "./types.js";

/**
 * A registry trustpub knows nothing about: the method decides the
 * permission (reads; PUT, POST and PATCH publish; DELETE yanks) and the
 * upstream checks the package against `X-Trustpub-Packages`.
 */
export const deriveGeneric: Deriver = (method) => {
  const m = normalMethod(method);
  if (m === "GET") return { permission: "read" };
  if (m === "PUT" || m === "POST" || m === "PATCH") return { permission: "publish" };
  if (m === "DELETE") return { permission: "yank" };
  return undefined;
};
