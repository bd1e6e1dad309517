import { type Context, Hono } from "hono";
import { presentedToken } from "../authz/credentials.js";
import { deriveOperation } from "../authz/derive.js";
import { type OriginalRequest, originalRequest } from "../authz/original.js";
import { scopeCovers } from "../authz/scope.js";
import type { Operation } from "../authz/types.js";
import type { ParsedConfig } from "../config/schema.js";
import { TrustpubError } from "../errors.js";
import { activeIssuedToken, issuedFor } from "../tokens/revocation.js";
import type { IssuedToken } from "../tokens/verify-issued.js";
import type { AppEnv } from "./env.js";

const PREFIX = "/v1/authz";

/**
 * The registry a check is for and, for Envoy, the original request in the
 * path: `/v1/authz/{registry}[/{original path}]`, or `/v1/authz?registry=`
 * (which may be left out when only one registry is configured). The Envoy
 * path is taken from the raw request target where the runtime has it: URL
 * parsing resolves `..` and `%2e%2e`, which the upstream receives unresolved.
 */
function target(
  config: Pick<ParsedConfig, "registries">,
  url: URL,
  raw: string | undefined,
  method: string,
): { registryId: string; envoy: OriginalRequest | undefined } {
  const source = raw ?? `${url.pathname}${url.search}`;
  const q = source.indexOf("?");
  const path = q === -1 ? source : source.slice(0, q);
  const search = q === -1 ? "" : source.slice(q);
  const below = path.startsWith(PREFIX) ? path.slice(PREFIX.length) : "";
  if (below === "" || below === "/") {
    const ids = Object.keys(config.registries);
    const registryId = url.searchParams.get("registry") ?? (ids.length === 1 ? ids[0]! : "");
    return { registryId, envoy: undefined };
  }
  const slash = below.indexOf("/", 1);
  if (slash === -1) return { registryId: below.slice(1), envoy: undefined };
  return {
    registryId: below.slice(1, slash),
    envoy: { method, uri: `${below.slice(slash)}${search}` },
  };
}

/** A header value as given, or percent-encoded when it holds anything but printable ASCII. */
function headerValue(value: string): string {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  return Array.from(value, (ch) => (/[\x20-\x7e]/.test(ch) ? ch : encodeURIComponent(ch))).join("");
}

/** The facts the upstream binds to what it stores (the verified source of the publish). */
function factHeaders(issued: IssuedToken, operation: Operation): Record<string, string> {
  const act = issued.act ?? {};
  const facts: Record<string, string | undefined> = {
    "X-Trustpub-Subject": issued.sub,
    "X-Trustpub-Packages": issued.packages.join(","),
    "X-Trustpub-Permissions": issued.permissions.join(","),
    "X-Trustpub-Permission": operation.permission,
    "X-Trustpub-Package": operation.package,
    "X-Trustpub-Publishers": Array.isArray(issued.publishers)
      ? issued.publishers.join(",")
      : undefined,
    "X-Trustpub-Source-Repository": act.repository,
    "X-Trustpub-Source-Ref": act.ref,
    "X-Trustpub-Source-Sha": act.sha,
    "X-Trustpub-Workflow": act.workflow,
    "X-Trustpub-Run-Url": act.run_url,
  };
  const headers: Record<string, string> = { "Cache-Control": "no-store" };
  for (const [name, value] of Object.entries(facts)) {
    if (typeof value === "string" && value !== "") headers[name] = headerValue(value);
  }
  return headers;
}

/**
 * `/v1/authz`: forward auth for nginx `auth_request`, Traefik ForwardAuth and
 * Envoy `ext_authz` (HTTP). Answers 200 with the `X-Trustpub-*` facts when
 * the token presented with the original request is active, for this
 * registry, and covers the operation the original method and URI perform;
 * 401 (`WWW-Authenticate: Bearer error="invalid_token"`) when there is no
 * such token; 403 when the token is fine but the request is beyond it.
 * Any method is accepted: Envoy checks with the original one.
 */
export function authzRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const handler = async (c: Context<AppEnv>) => {
    const services = c.get("services");
    const url = new URL(c.req.url);
    const { registryId, envoy } = target(services.config, url, c.get("target"), c.req.method);
    const registry = Object.hasOwn(services.config.registries, registryId)
      ? services.config.registries[registryId]
      : undefined;
    if (registry === undefined) {
      throw new TrustpubError("not_found", "name a configured registry: /v1/authz/{registry}");
    }
    const original = originalRequest((name) => c.req.header(name), envoy);
    if (!original.ok && original.why !== "conflict") {
      throw new TrustpubError(
        "malformed_request",
        original.why === "missing"
          ? "the proxy must pass the original method and URI (X-Original-Method and X-Original-URI)"
          : "the original method and URI must be given together",
      );
    }

    const token = presentedToken(registry.flavor, (name) => c.req.header(name));
    if (token === undefined) throw new TrustpubError("invalid_token", "no token in the request");
    const issued = await activeIssuedToken(
      {
        verify: services.verifyIssued,
        replay: services.replay,
        keyPrefix: services.config.replay.key_prefix,
      },
      token,
    );
    if (issued === undefined || !issuedFor(issued, registryId, registry)) {
      throw new TrustpubError("invalid_token", "the token is not valid for this registry");
    }

    if (!original.ok) {
      throw new TrustpubError(
        "scope_exceeded",
        "the original request is described twice, differently",
      );
    }
    const operation = deriveOperation(
      registry.flavor,
      original.request.method,
      original.request.uri,
    );
    if (operation === undefined) {
      throw new TrustpubError(
        "scope_exceeded",
        "this request is not an operation trustpub authorizes",
      );
    }
    if (!scopeCovers(issued.scope, registry.flavor, operation)) {
      throw new TrustpubError(
        "scope_exceeded",
        `the token does not grant ${operation.permission} here`,
      );
    }
    // A Response built whole, with its headers as a plain record (they hold
    // no-store): Hono would otherwise merge a dozen fact headers one by one
    // into the headers it prepared.
    const body = {
      allowed: true,
      permission: operation.permission,
      package: operation.package ?? null,
    };
    return new Response(JSON.stringify(body), {
      status: 200,
      headers: { "content-type": "application/json", ...factHeaders(issued, operation) },
    });
  };
  app.all(PREFIX, handler);
  app.all(`${PREFIX}/*`, handler);
  return app;
}
