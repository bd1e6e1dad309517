import { Hono } from "hono";
import { mountPrefix } from "../../config/mount.js";
import type { ParsedConfig, RegistryConfig } from "../../config/schema.js";
import type { AppEnv } from "../env.js";
import { cargoProtocol } from "./cargo.js";
import { npmProtocol } from "./npm.js";
import { nugetProtocol } from "./nuget.js";
import { pypiProtocol } from "./pypi.js";
import { rubygemsProtocol } from "./rubygems.js";
import type { CompatEndpoint, CompatProtocol } from "./types.js";

const PROTOCOLS: ReadonlyMap<string, CompatProtocol> = new Map(
  [npmProtocol, pypiProtocol, cargoProtocol, rubygemsProtocol, nugetProtocol].map((p) => [
    p.flavor,
    p,
  ]),
);

export interface CompatHit {
  readonly registryId: string;
  readonly registry: RegistryConfig;
  readonly protocol: CompatProtocol;
  readonly endpoint: CompatEndpoint;
  readonly match: RegExpExecArray;
}

/**
 * The registry endpoint a request is for: a registry whose mount prefixes the
 * path and whose flavor's protocol has an endpoint for the rest. Read from
 * the current config on every request, so a reload moves mounts without a
 * new app.
 */
export function findCompatEndpoint(
  config: Pick<ParsedConfig, "registries">,
  method: string,
  path: string,
): CompatHit | undefined {
  const wanted = method === "HEAD" ? "GET" : method;
  for (const [registryId, registry] of Object.entries(config.registries)) {
    const protocol = PROTOCOLS.get(registry.flavor);
    if (protocol === undefined) continue;
    const prefix = mountPrefix(registryId, registry);
    if (!path.startsWith(`${prefix}/`)) continue;
    const rest = path.slice(prefix.length);
    for (const endpoint of protocol.endpoints) {
      if (endpoint.method !== wanted) continue;
      const match = endpoint.path.exec(rest);
      if (match) return { registryId, registry, protocol, endpoint, match };
    }
  }
  return undefined;
}

/**
 * The registry-compatible endpoints (SPEC section 4), mounted per registry
 * under its `mount`. Each sets its ecosystem's error shape, so the one
 * onError answers refusals the way that ecosystem's client reads them.
 */
export function registryRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.all("*", async (c, next) => {
    const services = c.get("services");
    const hit = findCompatEndpoint(services.config, c.req.method, new URL(c.req.url).pathname);
    if (hit === undefined) return next();
    c.set("errorShape", hit.protocol.errorShape);
    return hit.endpoint.handle({
      c,
      services,
      registryId: hit.registryId,
      registry: hit.registry,
      match: hit.match,
    });
  });
  return app;
}
