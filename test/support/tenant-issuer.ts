import { createServer } from "node:http";
import { CompactSign, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import { listenOnLoopback } from "./loopback.js";

/**
 * An OIDC issuer with one URL per tenant, as CircleCI (`/org/<id>`),
 * Bitbucket (`/2.0/workspaces/<slug>/...`) and GitHub enterprises
 * (`/<slug>`) have: `url(tenant)` is that tenant's issuer, serving its own
 * discovery document and JWKS. Only the listed tenants exist; any other
 * tenant's discovery answers 404. All tenants share one RS256 key, as the
 * real platforms do. Binds 127.0.0.1 only.
 */
export interface TenantIssuer {
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  /** The issuer URL of one tenant: origin + prefix + tenant + suffix. */
  url(tenant: string): string;
  /** The config pattern: origin + prefix + `{name}` + suffix. */
  pattern(name: string): string;
  /** Signs claims as-is (set `iss` yourself). */
  sign(claims: Record<string, unknown>): Promise<string>;
  readonly publicJwk: JWK;
  /** Every request path received, in order. */
  readonly paths: readonly string[];
  stop(): Promise<void>;
}

export async function startTenantIssuer(opts: {
  prefix: string;
  suffix?: string;
  tenants: readonly string[];
}): Promise<TenantIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", {
    extractable: true,
    modulusLength: 2048,
  });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const publicJwk: JWK = { ...jwk, kid, alg: "RS256", use: "sig" };
  const suffix = opts.suffix ?? "";
  const tenants = new Set(opts.tenants);
  const paths: string[] = [];
  let origin = "";

  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    paths.push(req.url ?? "/");
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
      });
      res.end(text);
    };
    for (const tenant of tenants) {
      const base = `${opts.prefix}${tenant}${suffix}`;
      if (path === `${base}/.well-known/openid-configuration`) {
        send(200, {
          issuer: `${origin}${base}`,
          jwks_uri: `${origin}${base}/.well-known/jwks.json`,
          id_token_signing_alg_values_supported: ["RS256"],
          response_types_supported: ["id_token"],
          subject_types_supported: ["public"],
        });
        return;
      }
      if (path === `${base}/.well-known/jwks.json`) {
        send(200, { keys: [publicJwk] });
        return;
      }
    }
    send(404, { error: "not_found" });
  });
  const listening = await listenOnLoopback(server);
  origin = `http://127.0.0.1:${listening.port}`;
  return {
    origin,
    url: (tenant) => `${origin}${opts.prefix}${tenant}${suffix}`,
    pattern: (name) => `${origin}${opts.prefix}{${name}}${suffix}`,
    sign: (claims) =>
      new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
        .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
        .sign(privateKey),
    publicJwk,
    paths,
    stop: listening.stop,
  };
}
