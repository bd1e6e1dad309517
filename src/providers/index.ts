import { generic } from "./generic.js";
import { github } from "./github.js";
import { gitlab } from "./gitlab.js";
import type { Provider } from "./types.js";

/** Every provider trustpub knows, by the name used in `ci_issuers[].provider`. */
export const PROVIDERS: Readonly<Record<string, Provider>> = Object.freeze({
  github,
  gitlab,
  generic,
});

export const PROVIDER_NAMES = Object.keys(PROVIDERS) as [string, ...string[]];

export function providerFor(name: string): Provider {
  const provider = Object.hasOwn(PROVIDERS, name) ? PROVIDERS[name] : undefined;
  if (!provider) throw new Error(`unknown provider ${name}`);
  return provider;
}
