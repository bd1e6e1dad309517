import type { JsonWebKey as NodeJwk } from "node:crypto";
import {
  createHmac,
  createPublicKey,
  KeyObject,
  verify as nodeVerify,
  X509Certificate,
} from "node:crypto";
import { connect } from "node:net";
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  flattenedVerify,
  generateKeyPair,
  type JSONWebKeySet,
  jwtVerify,
} from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCanary } from "./canary.js";
import { githubClaims, gitlabClaims } from "./claims.js";
import {
  es256Malformed,
  hs256WithSecret,
  jsonSerialization,
  jweLike,
  publicKeyForms,
  reencode,
  unsigned,
  weakRsaJwks,
  withEmbeddedJwk,
  x5cSelfSigned,
} from "./forge.js";
import { jsonHandler, startIssuer, type TestIssuer } from "./issuer.js";
import { freePort } from "./ports.js";
import { type RedisProcess, startRedis } from "./redis.js";

const AUD = "trustpub.test";
const decode = (part: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(part, "base64url").toString("utf8"));

function rawPing(port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve("timeout");
    }, timeoutMs);
    socket.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code ?? "error");
    });
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (chunk) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(chunk.toString().trim());
    });
  });
}

async function verifyAgainst(issuer: TestIssuer, token: string) {
  const jwks = (await (await fetch(`${issuer.url}/jwks`)).json()) as JSONWebKeySet;
  return jwtVerify(token, createLocalJWKSet(jwks), { issuer: issuer.url, audience: AUD });
}

describe("freePort", () => {
  it("returns a bindable port", async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(await rawPing(port, 1000)).toBe("ECONNREFUSED");
  });
});

describe("redis", () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  it("answers, counts and flushes", async () => {
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(redis.pid()).toBeTypeOf("number");
    expect(await redis.client().ping()).toBe("PONG");
    await redis.client().set("k", "v", "PX", 60_000);
    expect(await redis.dbsize()).toBe(1);
    expect(await redis.client().pttl("k")).toBeGreaterThan(50_000);
    await redis.flush();
    expect(await redis.dbsize()).toBe(0);
  });

  it("pauses and resumes", async () => {
    redis.pause();
    expect(await rawPing(redis.port, 300)).toBe("timeout");
    redis.resume();
    expect(await rawPing(redis.port, 2000)).toBe("+PONG");
  });

  it("stops (even while paused) and starts again on the same port", async () => {
    await redis.client().set("gone", "1");
    const before = redis.pid();
    redis.pause();
    await redis.stop();
    expect(redis.pid()).toBeUndefined();
    expect(await rawPing(redis.port, 1000)).toBe("ECONNREFUSED");
    await redis.start();
    expect(redis.pid()).not.toBe(before);
    expect(await rawPing(redis.port, 1000)).toBe("+PONG");
    expect(await redis.client().ping()).toBe("PONG");
    expect(await redis.dbsize()).toBe(0);
  });

  it("surfaces redis output when it fails to start", async () => {
    await expect(startRedis({ extraArgs: ["--no-such-directive", "1"] })).rejects.toThrow(
      /redis-server on 127\.0\.0\.1:\d+ exited[\s\S]*no-such-directive/,
    );
  });
});

describe("issuer", () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer();
  });
  afterAll(async () => {
    await issuer?.stop();
  });

  it("serves discovery and a JWKS that verifies its tokens", async () => {
    issuer.resetCounts();
    const doc = (await (await fetch(`${issuer.url}/.well-known/openid-configuration`)).json()) as {
      issuer: string;
      jwks_uri: string;
    };
    expect(doc.issuer).toBe(issuer.url);
    expect(doc.jwks_uri).toBe(`${issuer.url}/jwks`);
    const jwks = (await (await fetch(doc.jwks_uri)).json()) as JSONWebKeySet;
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: issuer.key.kid, alg: "RS256", kty: "RSA" });
    expect(jwks.keys[0]).not.toHaveProperty("d");

    const claims = githubClaims(issuer.url, AUD);
    const token = await issuer.sign(claims);
    expect(decodeProtectedHeader(token)).toEqual({ alg: "RS256", kid: issuer.key.kid, typ: "JWT" });
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: issuer.url,
      audience: AUD,
    });
    expect(payload).toEqual(claims);
    expect(issuer.requests).toMatchObject({ total: 2, discovery: 1, jwks: 1 });
    expect(issuer.requests.paths).toEqual(["/.well-known/openid-configuration", "/jwks"]);
    issuer.resetCounts();
    expect(issuer.requests).toEqual({ total: 0, discovery: 0, jwks: 0, paths: [] });
  });

  it("rotates keys and signs with unpublished ones", async () => {
    const first = issuer.key;
    const second = await issuer.addKey({ alg: "ES256" });
    const hidden = await issuer.addKey({ publish: false });
    expect(issuer.keys().map((k) => k.kid)).toEqual([first.kid, second.kid]);
    const es = await issuer.sign(githubClaims(issuer.url, AUD), { kid: second.kid });
    expect(decodeProtectedHeader(es).alg).toBe("ES256");
    await verifyAgainst(issuer, es);
    const unknown = await issuer.sign(githubClaims(issuer.url, AUD), { kid: hidden.kid });
    await expect(verifyAgainst(issuer, unknown)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    issuer.removeKey(first.kid);
    expect(issuer.key.kid).toBe(second.kid);
    await expect(
      verifyAgainst(issuer, await issuer.sign(githubClaims(issuer.url, AUD), { kid: first.kid })),
    ).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
  });

  it("signs with foreign keys and custom headers", async () => {
    const foreign = await generateKeyPair(issuer.key.alg);
    const bad = await issuer.sign(githubClaims(issuer.url, AUD), { key: foreign.privateKey });
    expect(decodeProtectedHeader(bad).kid).toBe(issuer.key.kid);
    await expect(verifyAgainst(issuer, bad)).rejects.toBeInstanceOf(
      errors.JWSSignatureVerificationFailed,
    );
    const hs = await issuer.sign({}, { key: new Uint8Array(32), header: { kid: undefined } });
    expect(decodeProtectedHeader(hs)).toEqual({ alg: "HS256", typ: "JWT" });
    const typed = await issuer.sign({}, { typ: "at+jwt", header: { x: 1 } });
    expect(decodeProtectedHeader(typed)).toMatchObject({ typ: "at+jwt", x: 1 });
  });

  it("overrides discovery and the JWKS handler, and goes down", async () => {
    issuer.setDiscovery({ issuer: "https://evil.example", jwks_uri: undefined });
    const doc = (await (
      await fetch(`${issuer.url}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(doc.issuer).toBe("https://evil.example");
    expect(doc).not.toHaveProperty("jwks_uri");
    issuer.setDiscovery({});

    issuer.setJwksHandler((_req, res) => {
      res.writeHead(302, { location: "http://127.0.0.1:1/jwks" });
      res.end();
    });
    const redirected = await fetch(`${issuer.url}/jwks`, { redirect: "manual" });
    expect(redirected.status).toBe(302);
    issuer.setJwksHandler(jsonHandler({ keys: [] }, 200));
    expect(await (await fetch(`${issuer.url}/jwks`)).json()).toEqual({ keys: [] });
    issuer.setJwksHandler();

    issuer.resetCounts();
    issuer.setDown(true);
    await expect(fetch(`${issuer.url}/jwks`)).rejects.toThrow();
    expect(issuer.requests.jwks).toBe(1);
    issuer.setDown(false);
    expect((await fetch(`${issuer.url}/jwks`)).status).toBe(200);
    expect((await fetch(`${issuer.url}/nope`)).status).toBe(404);
    expect(issuer.requests.total).toBe(3);
  });

  it("supports a path prefix and stops with stalled responses in flight", async () => {
    const other = await startIssuer({ path: "/some/path/", alg: "ES256" });
    expect(other.url).toBe(`http://127.0.0.1:${other.port}/some/path`);
    const doc = (await (await fetch(`${other.url}/.well-known/openid-configuration`)).json()) as {
      jwks_uri: string;
    };
    expect(doc.jwks_uri).toBe(`${other.url}/jwks`);
    const token = await other.sign(gitlabClaims(other.url, AUD));
    await verifyAgainst(other, token);

    other.setJwksHandler(() => {});
    const stalled = fetch(`${other.url}/jwks`);
    await new Promise((r) => setTimeout(r, 100));
    await other.stop();
    await expect(stalled).rejects.toThrow();
  });
});

describe("claims", () => {
  it("builds realistic, fresh claims with shallow overrides", () => {
    const a = githubClaims("https://iss", AUD);
    const b = githubClaims("https://iss", AUD, { environment: undefined, ref: "refs/heads/main" });
    expect(a.jti).not.toBe(b.jti);
    expect(a.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.exp - a.iat).toBe(300);
    expect(a.nbf).toBe(a.iat);
    expect(a).toMatchObject({
      sub: "repo:acme/demo:environment:release",
      repository_id: "892394032",
      job_workflow_ref: a.workflow_ref,
    });
    expect(a.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(b).not.toHaveProperty("environment");
    expect(b.ref).toBe("refs/heads/main");
    const g = gitlabClaims("https://gitlab.example", AUD);
    expect(g).toMatchObject({
      sub: "project_path:acme/demo:ref_type:tag:ref:v1.2.3",
      ref_path: "refs/tags/v1.2.3",
      iss: "https://gitlab.example",
      aud: AUD,
    });
  });
});

describe("forge and canary", () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer();
  });
  afterAll(async () => {
    await issuer?.stop();
  });

  it("builds unsigned and HS256-confused tokens", () => {
    const none = unsigned({ alg: "nOnE", typ: "JWT" }, { sub: "x" });
    expect(none.endsWith(".")).toBe(true);
    expect(decode(none.split(".")[0]!)).toEqual({ alg: "nOnE", typ: "JWT" });
    expect(unsigned('{"alg":"RS256","alg":"none"}', "raw").split(".")[1]).toBe(
      Buffer.from("raw").toString("base64url"),
    );

    const forms = publicKeyForms(issuer.key.publicJwk);
    expect(Buffer.from(forms.pem).toString()).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(forms.der[0]).toBe(0x30);
    expect(forms.n).toHaveLength(256);
    const token = hs256WithSecret({ alg: "HS256" }, { sub: "x" }, forms.pem);
    const [h, p, s] = token.split(".");
    expect(createHmac("sha256", forms.pem).update(`${h}.${p}`).digest("base64url")).toBe(s);
  });

  it("builds embedded-jwk and x5c tokens that the issuer JWKS rejects", async () => {
    const claims = githubClaims(issuer.url, AUD);
    const embedded = await withEmbeddedJwk(claims);
    expect(decodeProtectedHeader(embedded).jwk).toMatchObject({ kty: "RSA" });
    expect(decodeProtectedHeader(embedded).jwk).not.toHaveProperty("d");
    await expect(verifyAgainst(issuer, embedded)).rejects.toBeInstanceOf(errors.JOSEError);

    const x5c = await x5cSelfSigned(claims);
    const header = decodeProtectedHeader(x5c);
    const cert = new X509Certificate(Buffer.from(header.x5c![0]!, "base64"));
    expect(cert.subject).toBe("CN=attacker");
    const [h, p, s] = x5c.split(".");
    expect(
      nodeVerify("sha256", Buffer.from(`${h}.${p}`), cert.publicKey, Buffer.from(s!, "base64url")),
    ).toBe(true);
    await expect(verifyAgainst(issuer, x5c)).rejects.toBeInstanceOf(errors.JOSEError);
  });

  it("builds malformed ES256 signatures", async () => {
    const es = await issuer.addKey({ alg: "ES256", publish: false });
    const header = { alg: "ES256", kid: es.kid, typ: "JWT" };
    const zero = es256Malformed(header, { sub: "x" }, "zero", es.privateKey);
    expect(Buffer.from(zero.split(".")[2]!, "base64url")).toEqual(Buffer.alloc(64));
    const der = es256Malformed(header, { sub: "x" }, "der", es.privateKey);
    const [h, p, s] = der.split(".");
    const derSig = Buffer.from(s!, "base64url");
    expect(derSig[0]).toBe(0x30);
    const pub = createPublicKey(KeyObject.from(es.privateKey));
    expect(nodeVerify("sha256", Buffer.from(`${h}.${p}`), pub, derSig)).toBe(true);
    const truncated = es256Malformed(header, { sub: "x" }, "truncated", es.privateKey);
    expect(Buffer.from(truncated.split(".")[2]!, "base64url")).toHaveLength(32);
  });

  it("builds JWE-like and JSON-serialized tokens", async () => {
    expect(jweLike().split(".")).toHaveLength(5);
    const token = await issuer.sign(githubClaims(issuer.url, AUD));
    const json = JSON.parse(jsonSerialization(token));
    expect(Object.keys(json)).toEqual(["protected", "payload", "signature"]);
    const jwks = createLocalJWKSet({ keys: issuer.keys().map((k) => k.publicJwk) });
    await expect(flattenedVerify(json, jwks)).resolves.toBeDefined();
  });

  it("re-encodes a token with the same payload bytes and a new signature", async () => {
    const token = await issuer.sign(githubClaims(issuer.url, AUD));
    const again = await reencode(token, issuer.key.privateKey, issuer.key.kid);
    expect(again).not.toBe(token);
    expect(again.split(".")[1]).toBe(token.split(".")[1]);
    expect(again.split(".")[2]).not.toBe(token.split(".")[2]);
    const a = await verifyAgainst(issuer, token);
    const b = await verifyAgainst(issuer, again);
    expect(b.payload.jti).toBe(a.payload.jti);
  });

  it("builds a weak RSA JWKS that signs via node:crypto", () => {
    const weak = weakRsaJwks();
    expect(Buffer.from(weak.publicJwk.n!, "base64url")).toHaveLength(128);
    expect(weak.jwks.keys[0]!.kid).toBe(weak.kid);
    const token = weak.sign({ sub: "x" });
    const [h, p, s] = token.split(".");
    const pub = createPublicKey({ key: weak.publicJwk as NodeJwk, format: "jwk" });
    expect(nodeVerify("sha256", Buffer.from(`${h}.${p}`), pub, Buffer.from(s!, "base64url"))).toBe(
      true,
    );
  });

  it("counts canary hits", async () => {
    const canary = await startCanary();
    expect(canary.hits()).toBe(0);
    await fetch(`${canary.url}/jwks.json`);
    await fetch(`${canary.url}/cert.pem`);
    expect(canary.hits()).toBe(2);
    expect(canary.connections()).toBeGreaterThanOrEqual(1);
    await canary.stop();
  });
});
