import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { CompactSign, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import { listenOnLoopback } from "./loopback.js";

export type IssuerAlg = "RS256" | "ES256";
export type JwksHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface IssuerKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface SignOptions {
  /** Header kid; also selects which issuer key signs (published or not). */
  kid?: string;
  /** Header alg; defaults to the signing key's algorithm (HS256 for a Uint8Array key). */
  alg?: string;
  /** Sign with this key instead of an issuer key. The header kid still defaults to the current kid. */
  key?: CryptoKey | Uint8Array;
  /** Extra/overriding header members; a member set to undefined is removed. */
  header?: Record<string, unknown>;
  typ?: string;
}

export interface IssuerRequests {
  total: number;
  discovery: number;
  jwks: number;
  paths: string[];
}

export interface TestIssuer {
  /** http://127.0.0.1:PORT, or http://127.0.0.1:PORT/some/path when opts.path was given. */
  readonly url: string;
  readonly port: number;
  /** The current key: the first key still published (or the newest key when none is). */
  readonly key: IssuerKey;
  /** Keys currently published at /jwks. */
  keys(): IssuerKey[];
  sign(claims: Record<string, unknown>, opts?: SignOptions): Promise<string>;
  /** New key, published by default. */
  addKey(opts?: { alg?: IssuerAlg; publish?: boolean }): Promise<IssuerKey>;
  /** Stop publishing the key; it can still sign via sign({ kid }). */
  removeKey(kid: string): void;
  /** Replace the overrides merged over the default discovery doc; undefined values remove members; {} restores. */
  setDiscovery(overrides: Record<string, unknown>): void;
  /** Override /jwks; undefined restores the default handler. */
  setJwksHandler(handler?: JwksHandler): void;
  /** While down, every request is answered by destroying its socket (it is still counted). */
  setDown(down: boolean): void;
  readonly requests: Readonly<IssuerRequests>;
  resetCounts(): void;
  /** Close the server and destroy every socket, including stalled responses. */
  stop(): Promise<void>;
}

async function createKey(alg: IssuerAlg): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(
    alg,
    alg === "RS256" ? { extractable: true, modulusLength: 2048 } : { extractable: true },
  );
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, alg, privateKey, publicJwk: { ...jwk, kid, alg, use: "sig" } };
}

/** The JWS alg matching a WebCrypto key. */
export function algForKey(key: CryptoKey): string {
  const algorithm = key.algorithm as { name: string; hash?: { name: string }; namedCurve?: string };
  const bits = algorithm.hash?.name.replace("SHA-", "") ?? "256";
  switch (algorithm.name) {
    case "RSASSA-PKCS1-v1_5":
      return `RS${bits}`;
    case "RSA-PSS":
      return `PS${bits}`;
    case "ECDSA":
      return (
        { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" }[algorithm.namedCurve ?? ""] ??
        "ES256"
      );
    case "HMAC":
      return `HS${bits}`;
    case "Ed25519":
      return "EdDSA";
    default:
      throw new Error(`algForKey: unsupported key algorithm ${algorithm.name}`);
  }
}

function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

/** A JWKS handler answering with a fixed JSON body (e.g. a weak or hostile key set). */
export function jsonHandler(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
): JwksHandler {
  return (req, res) => sendJson(req, res, status, body, headers);
}

function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(req.method === "HEAD" ? undefined : text);
}

/** A real OIDC issuer (discovery + JWKS) over node:http on 127.0.0.1. */
export async function startIssuer(
  opts: { alg?: IssuerAlg; path?: string } = {},
): Promise<TestIssuer> {
  const all: IssuerKey[] = [await createKey(opts.alg ?? "RS256")];
  const published = new Set<string>([all[0]!.kid]);
  const counts: IssuerRequests = { total: 0, discovery: 0, jwks: 0, paths: [] };
  let overrides: Record<string, unknown> = {};
  let jwksHandler: JwksHandler | undefined;
  let down = false;

  const prefix = opts.path ? `/${opts.path.replace(/^\/+|\/+$/g, "")}` : "";
  const discoveryPath = `${prefix}/.well-known/openid-configuration`;
  const jwksPath = `${prefix}/jwks`;

  const publishedKeys = (): IssuerKey[] => all.filter((k) => published.has(k.kid));
  const current = (): IssuerKey => publishedKeys()[0] ?? all[all.length - 1]!;

  const server = createServer((req, res) => {
    const rawUrl = req.url ?? "/";
    const path = rawUrl.split("?")[0];
    counts.total++;
    counts.paths.push(rawUrl);
    if (path === discoveryPath) counts.discovery++;
    else if (path === jwksPath) counts.jwks++;
    if (down) {
      req.socket.destroy();
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendJson(req, res, 405, { error: "method_not_allowed" }, { allow: "GET, HEAD" });
      return;
    }
    if (path === discoveryPath) {
      sendJson(req, res, 200, discovery());
    } else if (path === jwksPath) {
      if (!jwksHandler) {
        sendJson(req, res, 200, { keys: publishedKeys().map((k) => k.publicJwk) });
        return;
      }
      try {
        jwksHandler(req, res);
      } catch {
        req.socket.destroy();
      }
    } else {
      sendJson(req, res, 404, { error: "not_found" });
    }
  });
  const listening = await listenOnLoopback(server);
  const { port } = listening;
  const url = `http://127.0.0.1:${port}${prefix}`;

  function discovery(): Record<string, unknown> {
    return withoutUndefined({
      issuer: url,
      jwks_uri: `${url}/jwks`,
      subject_types_supported: ["public", "pairwise"],
      response_types_supported: ["id_token"],
      claims_supported: ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha"],
      id_token_signing_alg_values_supported: [...new Set(publishedKeys().map((k) => k.alg))],
      scopes_supported: ["openid"],
      ...overrides,
    });
  }

  return {
    url,
    port,
    get key() {
      return current();
    },
    keys: publishedKeys,
    async sign(claims, signOpts = {}) {
      const byKid = signOpts.kid ? all.find((k) => k.kid === signOpts.kid) : undefined;
      const issuerKey = byKid ?? current();
      const key = signOpts.key ?? issuerKey.privateKey;
      const alg =
        signOpts.alg ??
        (signOpts.key instanceof Uint8Array
          ? "HS256"
          : signOpts.key
            ? algForKey(signOpts.key)
            : issuerKey.alg);
      const header = withoutUndefined({
        alg,
        kid: signOpts.kid ?? issuerKey.kid,
        typ: signOpts.typ ?? "JWT",
        ...signOpts.header,
      });
      return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
        .setProtectedHeader(header as { alg: string })
        .sign(key);
    },
    async addKey(addOpts = {}) {
      const key = await createKey(addOpts.alg ?? "RS256");
      all.push(key);
      if (addOpts.publish ?? true) published.add(key.kid);
      return key;
    },
    removeKey(kid) {
      published.delete(kid);
    },
    setDiscovery(next) {
      overrides = { ...next };
    },
    setJwksHandler(handler) {
      jwksHandler = handler;
    },
    setDown(value) {
      down = value;
    },
    requests: counts,
    resetCounts() {
      counts.total = 0;
      counts.discovery = 0;
      counts.jwks = 0;
      counts.paths.length = 0;
    },
    stop: listening.stop,
  };
}
