import { decodeSegment } from "../policy/npm-name.js";
import { type Deriver, fallbackRead, normalMethod } from "./types.js";

const GEM = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * RubyGems paths:
 * - `POST /api/v1/gems` pushes a gem; its name is inside the uploaded file,
 *   so the operation is `publish` without a package;
 * - `DELETE /api/v1/gems/yank` yanks; the CLI sends `gem_name` in the body,
 *   so the gem is known only when the query carries `gem_name`;
 * - `GET /api/v1/gems/{name}.json` and `GET /info/{name}` read it.
 */
export const deriveRubygems: Deriver = (method, { segments, query }) => {
  const m = normalMethod(method);
  const api = segments[0] === "api" && segments[1] === "v1" && segments[2] === "gems";
  if (api && segments.length === 3 && m === "POST") return { permission: "publish" };
  if (api && segments.length === 4 && segments[3] === "yank" && m === "DELETE") {
    const gem = query.get("gem_name");
    return { permission: "yank", package: gem !== null && GEM.test(gem) ? gem : undefined };
  }
  if (m !== "GET") return undefined;
  const gem = (raw: string | undefined) => {
    const decoded = decodeSegment(raw ?? "");
    return decoded !== undefined && GEM.test(decoded) ? decoded : undefined;
  };
  if (api && segments.length === 4 && segments[3]!.endsWith(".json")) {
    const name = gem(segments[3]!.slice(0, -".json".length));
    if (name !== undefined) return { permission: "read", package: name };
  }
  if (segments[0] === "info" && segments.length === 2 && gem(segments[1]) !== undefined) {
    return { permission: "read", package: gem(segments[1]) };
  }
  return fallbackRead(m);
};
