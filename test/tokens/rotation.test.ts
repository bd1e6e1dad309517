import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateJwk } from "../../src/tokens/keys.js";
import { type Harness, startHarness, TRUSTPUB_ISSUER } from "../support/harness.js";

type PrivateJwk = Awaited<ReturnType<typeof generatePrivateJwk>>;

let dir: string;
let keyA: PrivateJwk;
let keyB: PrivateJwk;
let keyC: PrivateJwk;
let h: Harness;

const keysFile = () => join(dir, "signing.jwks.json");
const writeKeys = (...keys: [PrivateJwk, "current" | "next" | "retired"][]) =>
  writeFile(keysFile(), JSON.stringify({ keys: keys.map(([k, status]) => ({ ...k, status })) }));
const configWith = (changes: Record<string, unknown> = {}) => ({
  ...structuredClone(h.config),
  ...changes,
});

async function jwks(): Promise<JSONWebKeySet> {
  return (await fetch(`${h.url}/.well-known/jwks.json`)).json() as Promise<JSONWebKeySet>;
}
const verifyWith = (set: JSONWebKeySet, token: string) =>
  jwtVerify(token, createLocalJWKSet(set), { issuer: TRUSTPUB_ISSUER, typ: "at+jwt" });
async function issue(): Promise<string> {
  const res = await h.exchange(await h.githubToken());
  expect(res.status).toBe(200);
  return res.body.token as string;
}
const kidOf = (token: string) => decodeProtectedHeader(token).kid;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "trustpub-rotation-"));
  [keyA, keyB, keyC] = await Promise.all([
    generatePrivateJwk("ES256"),
    generatePrivateJwk("ES256"),
    generatePrivateJwk("ES256"),
  ]);
  await writeKeys([keyA, "current"], [keyB, "next"]);
  h = await startHarness({
    configDir: dir,
    configure: (config) => {
      config.signing = { keys_file: "signing.jwks.json" };
    },
  });
});
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("signing key rotation (security case 46)", () => {
  let beforeRotation: string;
  let cachedJwks: JSONWebKeySet;

  it("publishes the next key before it signs", async () => {
    cachedJwks = await jwks();
    expect(cachedJwks.keys.map((k) => k.kid)).toEqual([keyA.kid, keyB.kid]);
    expect(cachedJwks.keys.every((k) => k.d === undefined && !("status" in k))).toBe(true);
    beforeRotation = await issue();
    expect(kidOf(beforeRotation)).toBe(keyA.kid);
  });

  it("rotates on reload: next becomes current, tokens of the retired key still verify", async () => {
    await writeKeys([keyA, "retired"], [keyB, "current"]);
    expect(await h.server.reload(configWith())).toBe(true);

    const published = await jwks();
    expect(published.keys.map((k) => k.kid).sort()).toEqual([keyA.kid, keyB.kid].sort());
    const afterRotation = await issue();
    expect(kidOf(afterRotation)).toBe(keyB.kid);

    // A registry that fetched the JWKS before the rotation verifies the new token (next was published).
    await expect(verifyWith(cachedJwks, afterRotation)).resolves.toBeTruthy();
    // Tokens signed before the rotation verify through the JWKS and in-process (introspection's path).
    const { payload } = await verifyWith(published, beforeRotation);
    expect(payload.iss).toBe(TRUSTPUB_ISSUER);
    expect(await h.server.services.verifyIssued(beforeRotation)).toMatchObject({
      jti: payload.jti,
    });
    expect(await h.server.services.verifyIssued(afterRotation)).toBeTruthy();
  });

  it("keeps retired tokens verifying until they expire, then refuses them", async () => {
    h.clock.offsetMs = 14 * 60_000;
    try {
      expect(await h.server.services.verifyIssued(beforeRotation)).toBeTruthy();
      h.clock.offsetMs = 16 * 60_000;
      expect(await h.server.services.verifyIssued(beforeRotation)).toBeUndefined();
    } finally {
      h.clock.offsetMs = 0;
    }
  });

  it("drops a retired key once removed from the file, even for a token verified just before", async () => {
    // Verified now, so remembered by the verifier in force; the reload must not carry that over.
    expect(await h.server.services.verifyIssued(beforeRotation)).toBeTruthy();
    await writeKeys([keyB, "current"], [keyC, "next"]);
    expect(await h.server.reload(configWith())).toBe(true);
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([keyB.kid, keyC.kid]);
    expect(await h.server.services.verifyIssued(beforeRotation)).toBeUndefined();
  });

  it("never fails a verification while rotating under load", async () => {
    let failures = 0;
    let verified = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const res = await h.exchange(await h.githubToken());
        if (res.status !== 200) {
          failures++;
          continue;
        }
        const token = res.body.token as string;
        const viaJwks = await verifyWith(await jwks(), token).then(
          () => true,
          () => false,
        );
        const inProcess = (await h.server.services.verifyIssued(token)) !== undefined;
        if (viaJwks && inProcess) verified++;
        else failures++;
      }
    };
    const workers = [worker(), worker()];
    await new Promise((r) => setTimeout(r, 150));
    await writeKeys([keyB, "retired"], [keyC, "current"]);
    expect(await h.server.reload(configWith())).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    await writeKeys([keyB, "retired"], [keyC, "current"], [keyA, "next"]);
    expect(await h.server.reload(configWith())).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    stop = true;
    await Promise.all(workers);
    expect(failures).toBe(0);
    expect(verified).toBeGreaterThan(2);
  });
});

describe("reload", () => {
  it("refuses a bad keys file, logs every problem and keeps serving the old keys", async () => {
    const servingBefore = h.server.services;
    const kidsBefore = (await jwks()).keys.map((k) => k.kid);
    await writeKeys([keyA, "current"], [keyB, "current"]);
    const logged = h.logs.records.length;
    expect(await h.server.reload(configWith())).toBe(false);
    const problems = h.logs.records.slice(logged).filter((r) => r.level === "error");
    expect(problems.map((r) => r.problem)).toEqual([
      'signing.keys_file: keys: exactly one key must have status "current" (found 2)',
    ]);
    expect(h.server.services).toBe(servingBefore);
    expect((await jwks()).keys.map((k) => k.kid)).toEqual(kidsBefore);
    expect((await h.exchange(await h.githubToken())).status).toBe(200);
    await writeKeys([keyB, "retired"], [keyC, "current"], [keyA, "next"]);
  });

  it("refuses a config with several problems, logging each with its path", async () => {
    const bad = configWith();
    const publishers = bad.publishers as Record<string, unknown>[];
    publishers[0] = { ...publishers[0], packages: [] };
    bad.defaults = { token_ttl: "3h" };
    const logged = h.logs.records.length;
    expect(await h.server.reload(bad)).toBe(false);
    const problems = h.logs.records
      .slice(logged)
      .filter((r) => r.level === "error")
      .map((r) => r.problem);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^defaults\.token_ttl: must be at most 1h/),
        expect.stringMatching(/^publishers\[0\]\.packages: /),
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(2);
    expect((await h.exchange(await h.githubToken())).status).toBe(200);
  });

  it("keeps the Redis connection when the topology is unchanged, and replaces it when it changes", async () => {
    const replay = h.server.services.replay;
    const ci = await h.githubToken();
    expect((await h.exchange(ci)).status).toBe(200);
    expect(await h.server.reload(configWith())).toBe(true);
    expect(h.server.services.replay).toBe(replay);
    const moved = configWith({ replay: { redis: h.redis!.url, command_timeout: "750ms" } });
    expect(await h.server.reload(moved)).toBe(true);
    expect(h.server.services.replay).not.toBe(replay);
    const again = await h.exchange(ci);
    expect(again.status).toBe(409);
    expect(again.body.reason).toBe("replayed_token");
    expect(again.body.token).toBeUndefined();
  });

  it("refuses a Redis that does not answer and keeps the one serving", async () => {
    const serving = h.server.services;
    const logged = h.logs.records.length;
    const unreachable = configWith({
      replay: { redis: "redis://127.0.0.1:1", command_timeout: "200ms" },
    });
    expect(await h.server.reload(unreachable)).toBe(false);
    expect(h.server.services).toBe(serving);
    const problems = h.logs.records.slice(logged).filter((r) => r.level === "error");
    expect(problems.map((r) => r.problem)).toEqual([
      "replay.redis: the new replay store did not answer within 5 s",
    ]);
    expect((await h.exchange(await h.githubToken())).status).toBe(200);
  });

  it("counts reloads in /metrics", async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toMatch(/^trustpub_config_reloads_total\{outcome="ok"\} [1-9]/m);
    expect(text).toMatch(/^trustpub_config_reloads_total\{outcome="error"\} 3$/m);
    expect(text).toMatch(/^trustpub_signing_keys\{status="current"\} 1$/m);
    expect(text).toMatch(/^trustpub_signing_keys\{status="next"\} 1$/m);
  });
});

describe("reload without Redis", () => {
  it("keeps the in-memory replay records and the ephemeral key", async () => {
    const local = await startHarness({ redis: false });
    try {
      const ci = await local.githubToken();
      const first = await local.exchange(ci);
      expect(first.status).toBe(200);
      const kid = kidOf(first.body.token as string);
      // Another poll interval rebuilds the admin publisher poller, never the replay records.
      const changed = { ...structuredClone(local.config), admin: { poll_interval: "3s" } };
      expect(await local.server.reload(changed)).toBe(true);
      const before = await local.storedKeys();
      const again = await local.exchange(ci);
      expect(again.status).toBe(409);
      expect(again.body.reason).toBe("replayed_token");
      expect(again.body.token).toBeUndefined();
      expect(await local.storedKeys()).toBe(before);
      expect(await local.server.services.verifyIssued(first.body.token as string)).toBeTruthy();
      const next = await local.exchange(await local.githubToken());
      expect(kidOf(next.body.token as string)).toBe(kid);
    } finally {
      await local.close();
    }
  });
});
