import { bitbucket } from "./bitbucket.js";
import { buildkite } from "./buildkite.js";
import { circleci } from "./circleci.js";
import { forgejo } from "./forgejo.js";
import { generic } from "./generic.js";
import { github } from "./github.js";
import { gitlab } from "./gitlab.js";
import { google } from "./google.js";
import { kubernetes } from "./kubernetes.js";
import type { Provider } from "./types.js";

/** Every provider trustpub knows, by the name used in `ci_issuers[].provider`. */
export const PROVIDERS: Readonly<Record<string, Provider>> = Object.freeze({
  github,
  gitlab,
  circleci,
  buildkite,
  forgejo,
  bitbucket,
  google,
  kubernetes,
  generic,
});

export const PROVIDER_NAMES = Object.keys(PROVIDERS) as [string, ...string[]];

export function providerFor(name: string): Provider {
  const provider = Object.hasOwn(PROVIDERS, name) ? PROVIDERS[name] : undefined;
  if (!provider) throw new Error(`unknown provider ${name}`);
  return provider;
}
