import { npmNameAt } from "../policy/npm-name.js";
import { type Deriver, fallbackRead, normalMethod, type Operation } from "./types.js";

/**
 * npm registry paths (the npm CLI against the CouchDB-style API):
 * - `PUT /{name}` publishes (a new version, or a deprecation);
 * - `PUT /{name}/-rev/{rev}`, `DELETE /{name}/-rev/{rev}` and
 *   `DELETE /{name}/-/{tarball}/-rev/{rev}` unpublish: `yank`;
 * - `PUT|DELETE /-/package/{name}/dist-tags/{tag}` move tags: `publish`;
 * - `GET /{name}`, `/{name}/{version}`, `/{name}/-/{tarball}` read.
 * `{name}` is `@scope%2fname` as the CLI sends it, or `@scope/name`.
 * Other writes (`/-/user/...` account creation, logins, ...) are refused.
 */
export const deriveNpm: Deriver = (method, { segments }) => {
  const m = normalMethod(method);
  if (segments[0] === "-") return distTags(m, segments) ?? fallbackRead(m);
  const named = npmNameAt(segments);
  if (named === undefined) return fallbackRead(m);
  const pkg = named.name;
  const rest = segments.slice(named.used);
  const at = (permission: Operation["permission"]): Operation => ({ permission, package: pkg });
  if (m === "GET") {
    if (rest.length === 0 || (rest.length === 1 && rest[0] !== "")) return at("read");
    if (rest.length === 2 && rest[0] === "-") return at("read");
    return fallbackRead(m);
  }
  if (m === "PUT" && rest.length === 0) return at("publish");
  if ((m === "PUT" || m === "DELETE") && rest.length === 2 && rest[0] === "-rev") return at("yank");
  if (m === "DELETE" && rest.length === 4 && rest[0] === "-" && rest[2] === "-rev")
    return at("yank");
  return undefined;
};

function distTags(m: string, segments: readonly string[]): Operation | undefined {
  if (segments[1] !== "package") return undefined;
  const named = npmNameAt(segments, 2);
  if (named === undefined) return undefined;
  const rest = segments.slice(2 + named.used);
  if (rest[0] !== "dist-tags" || rest.length > 2) return undefined;
  if (m === "GET") return { permission: "read", package: named.name };
  if ((m === "PUT" || m === "DELETE" || m === "POST") && rest.length === 2 && rest[1] !== "") {
    return { permission: "publish", package: named.name };
  }
  return undefined;
}
