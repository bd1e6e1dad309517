import { decodeSegment } from "../policy/npm-name.js";
import { type Deriver, fallbackRead, normalMethod } from "./types.js";

const CRATE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/**
 * The cargo registry web API (`/api/v1/crates/...`):
 * - `PUT /api/v1/crates/new` publishes; the crate is named only in the
 *   body, so the operation is `publish` without a package;
 * - `DELETE .../{crate}/{version}/yank` and `PUT .../unyank` need `yank`;
 * - `GET /api/v1/crates/{crate}[/...]` reads (downloads included).
 * Owner changes are refused: no permission covers them.
 */
export const deriveCargo: Deriver = (method, { segments }) => {
  const m = normalMethod(method);
  if (segments[0] !== "api" || segments[1] !== "v1" || segments[2] !== "crates") {
    return fallbackRead(m);
  }
  const rest = segments.slice(3);
  if (rest.length === 1 && rest[0] === "new")
    return m === "PUT" ? { permission: "publish" } : undefined;
  const crate = decodeSegment(rest[0] ?? "");
  if (crate === undefined || !CRATE.test(crate)) return fallbackRead(m);
  if (rest[1] === "owners") return m === "GET" ? { permission: "read", package: crate } : undefined;
  if (rest.length === 3 && rest[2] === "yank" && m === "DELETE") {
    return { permission: "yank", package: crate };
  }
  if (rest.length === 3 && rest[2] === "unyank" && m === "PUT") {
    return { permission: "yank", package: crate };
  }
  return m === "GET" ? { permission: "read", package: crate } : undefined;
};
