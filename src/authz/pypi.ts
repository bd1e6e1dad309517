import { decodeSegment } from "../policy/npm-name.js";
import { type Deriver, fallbackRead, normalMethod } from "./types.js";

/** PEP 508 project names. */
const NAME = /^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]{0,198}[A-Za-z0-9])$/;

/**
 * PyPI paths:
 * - `POST /` or `POST /legacy/` uploads (twine); the project is named only in
 *   the multipart body, so the operation is `publish` without a package;
 * - `GET /simple/{name}/` and `GET /pypi/{name}[/{version}]/json` read it;
 * - other reads (`/packages/...` files) need `read` on some project.
 */
export const derivePypi: Deriver = (method, { segments }) => {
  const m = normalMethod(method);
  const path = segments.join("/");
  if (m === "POST" && (path === "" || path === "legacy" || path === "legacy/")) {
    return { permission: "publish" };
  }
  if (m !== "GET") return undefined;
  const name = (at: number) => {
    const decoded = decodeSegment(segments[at] ?? "");
    return decoded !== undefined && NAME.test(decoded) ? decoded : undefined;
  };
  if (segments[0] === "simple" && segments.length <= 3 && name(1) !== undefined) {
    return { permission: "read", package: name(1) };
  }
  if (segments[0] === "pypi" && segments.at(-1) === "json" && name(1) !== undefined) {
    return { permission: "read", package: name(1) };
  }
  return fallbackRead(m);
};
