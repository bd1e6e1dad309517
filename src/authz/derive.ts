import type { Flavor } from "../policy/packages.js";
import { deriveCargo } from "./cargo.js";
import { deriveGeneric } from "./generic.js";
import { deriveNpm } from "./npm.js";
import { deriveNuget } from "./nuget.js";
import { derivePypi } from "./pypi.js";
import { deriveRubygems } from "./rubygems.js";
import type { Deriver, Operation } from "./types.js";
import { parseOriginalUri } from "./uri.js";

const DERIVERS: Record<Flavor, Deriver> = {
  npm: deriveNpm,
  pypi: derivePypi,
  cargo: deriveCargo,
  rubygems: deriveRubygems,
  nuget: deriveNuget,
  generic: deriveGeneric,
};

/**
 * The operation an original request performs, read by the registry's
 * flavor; undefined when the URI is malformed or the request is nothing
 * trustpub can authorize (which forward auth answers with 403).
 */
export function deriveOperation(
  flavor: Flavor,
  method: string,
  uri: string,
): Operation | undefined {
  const parsed = parseOriginalUri(uri);
  if (parsed === undefined || !/^[A-Za-z]{1,16}$/.test(method)) return undefined;
  return DERIVERS[flavor](method, parsed);
}
