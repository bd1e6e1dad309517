import { bareCredential, basicCredential, bearerCredential } from "../lib/authorization.js";
import type { Flavor } from "../policy/packages.js";

/**
 * Where each ecosystem's client puts the token it was given:
 * npm `Authorization: Bearer`; twine `Authorization: Basic` with user
 * `__token__`; cargo and the RubyGems CLI the bare `Authorization` value;
 * NuGet `X-NuGet-ApiKey`. `Authorization: Bearer` is read for every flavor.
 */
export function presentedToken(
  flavor: Flavor,
  header: (name: string) => string | undefined,
): string | undefined {
  const authorization = header("authorization");
  switch (flavor) {
    case "pypi": {
      const basic = basicCredential(authorization);
      if (basic !== undefined)
        return basic.user === "__token__" && basic.password ? basic.password : undefined;
      return bearerCredential(authorization);
    }
    case "cargo":
    case "rubygems":
      return bareCredential(authorization);
    case "nuget": {
      const key = header("x-nuget-apikey")?.trim();
      return key ? key : bearerCredential(authorization);
    }
    default:
      return bearerCredential(authorization);
  }
}
