import { decodeSegment } from "../policy/npm-name.js";
import { type Deriver, fallbackRead, normalMethod } from "./types.js";

const ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

/**
 * NuGet push API (`/api/v2/package`, what `dotnet nuget push` uses):
 * - `PUT /api/v2/package` pushes a .nupkg; its id is inside the package, so
 *   the operation is `publish` without a package;
 * - `DELETE /api/v2/package/{id}/{version}` unlists and `POST` on the same
 *   path relists: `yank`;
 * - `GET /v3-flatcontainer/{id}/...` reads.
 */
export const deriveNuget: Deriver = (method, { segments }) => {
  const m = normalMethod(method);
  const id = (raw: string | undefined) => {
    const decoded = decodeSegment(raw ?? "");
    return decoded !== undefined && ID.test(decoded) ? decoded : undefined;
  };
  if (segments[0] === "api" && segments[1] === "v2" && segments[2] === "package") {
    const rest = segments.slice(3);
    if (rest.length === 0 || (rest.length === 1 && rest[0] === "")) {
      return m === "PUT" ? { permission: "publish" } : undefined;
    }
    if (rest.length === 2 && (m === "DELETE" || m === "POST") && id(rest[0]) !== undefined) {
      return { permission: "yank", package: id(rest[0]) };
    }
    return undefined;
  }
  if (segments[0] === "v3-flatcontainer" && m === "GET" && id(segments[1]) !== undefined) {
    return { permission: "read", package: id(segments[1]) };
  }
  return fallbackRead(m);
};
