import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src/server.js";
import { memoryAudit } from "../../src/telemetry/audit.js";
import { memoryLogger } from "../../src/telemetry/logger.js";
import { generatePrivateJwk } from "../../src/tokens/keys.js";
import { type Harness, startHarness } from "../support/harness.js";
import {
  INTROSPECT_SECRET,
  removeSecretFiles,
  send,
  withAllFlavors,
} from "../support/registries.js";

let h: Harness;
let replica: RunningServer;
let dir: string;
beforeAll(async () => {
  const jwk = await generatePrivateJwk("ES256");
  dir = mkdtempSync(join(tmpdir(), "trustpub-keys-"));
  const keysFile = join(dir, "signing.jwks.json");
  writeFileSync(keysFile, JSON.stringify({ keys: [jwk] }));
  h = await startHarness({
    configure: (config, ctx) => {
      withAllFlavors("/")(config, ctx);
      config.signing = { keys_file: keysFile };
    },
  });
  // A second replica: same config, same keys, same Redis.
  replica = await startServer({
    config: h.config,
    env: {},
    port: 0,
    host: "127.0.0.1",
    clock: h.clock,
    audit: memoryAudit(),
    logger: memoryLogger(),
  });
});
afterAll(async () => {
  await replica?.shutdown();
  await h?.close();
  removeSecretFiles();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const revoke = (url: string, token: string) =>
  send(url, "/v1/revoke", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString(),
  });
const introspect = async (url: string, token: string) =>
  (
    await send(url, "/v1/introspect", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${INTROSPECT_SECRET["npm-internal"]}`,
      },
      body: JSON.stringify({ token }),
    })
  ).body.active;
const authz = (url: string, token: string) =>
  send(url, "/v1/authz/npm-internal", {
    headers: {
      authorization: `Bearer ${token}`,
      "x-original-method": "PUT",
      "x-original-uri": "/@acme%2fdemo",
    },
  });
const issue = async () => (await h.exchange(await h.githubToken())).body.token as string;

describe("revocation (RFC 7009)", () => {
  it("denylists a token on every replica until it expires", async () => {
    const token = await issue();
    for (const url of [h.url, replica.url]) {
      expect(await introspect(url, token)).toBe(true);
      expect((await authz(url, token)).status).toBe(200);
    }
    const before = await h.storedKeys();
    const res = await revoke(h.url, token);
    expect(res.status).toBe(200);
    expect(res.text).toBe("");
    expect(await h.storedKeys()).toBe(before + 1);

    for (const url of [h.url, replica.url]) {
      expect(await introspect(url, token)).toBe(false);
      const denied = await authz(url, token);
      expect(denied.status).toBe(401);
      expect(denied.body.reason).toBe("invalid_token");
    }
    const ttl = await h
      .redis!.client()
      .pttl((await h.redis!.client().keys("trustpub:revoked:*"))[0]!);
    expect(ttl).toBeGreaterThan(900_000);
    expect(ttl).toBeLessThanOrEqual((900 + 30) * 1000);

    const event = h.audit.events.find((e) => e.type === "trustpub.revoke");
    expect(event).toMatchObject({
      outcome: "success",
      endpoint: "revoke",
      registry: "npm-internal",
    });
    expect(JSON.stringify(event)).not.toContain(token);
  });

  it("answers 200 for garbage and foreign tokens and stores nothing", async () => {
    const before = await h.storedKeys();
    for (const token of ["garbage", await h.githubToken(), "a.b.c"]) {
      const res = await revoke(h.url, token);
      expect(res.status).toBe(200);
    }
    expect(await h.storedKeys()).toBe(before);
  });

  it("fails closed while the replay store is down: 503, and authz refuses", async () => {
    const token = await issue();
    await h.redis!.stop();
    try {
      const res = await revoke(h.url, token);
      expect(res.status).toBe(503);
      expect(res.body.reason).toBe("unavailable");
      expect(res.headers.get("retry-after")).toBe("1");
      const check = await authz(h.url, token);
      expect(check.status).toBe(503);
      expect(check.body.reason).toBe("unavailable");
    } finally {
      await h.redis!.start();
    }
    await expect
      .poll(async () => (await authz(h.url, token)).status, { timeout: 10_000 })
      .toBe(200);
  });
});
