import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateJwk } from "../../src/tokens/keys.js";
import { githubClaims } from "../support/claims.js";
import { baseConfig, NPM_AUDIENCE, TRUSTPUB_ISSUER } from "../support/harness.js";
import { startIssuer, type TestIssuer } from "../support/issuer.js";
import { type RedisProcess, startRedis } from "../support/redis.js";
import { type SpawnedServer, spawnServer } from "../support/spawned-server.js";

// The Node build (dist/, `npm run build`) with its Redis store, started
// unchanged by each runtime's own command line.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = join(ROOT, "node_modules/.bin");
const CLI = "dist/cli.js";

const RUNTIMES = [
  {
    name: "node",
    command: process.execPath,
    args: [CLI],
    version: [process.execPath, "--version"],
  },
  {
    name: "deno",
    command: join(BIN, "deno"),
    // The permissions trustpub needs: sockets, its env, its config and key files, and
    // the host name pino logs.
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", CLI],
    version: [join(BIN, "deno"), "--version"],
  },
  { name: "bun", command: join(BIN, "bun"), args: [CLI], version: [join(BIN, "bun"), "--version"] },
] as const;

let github: TestIssuer;
let gitlab: TestIssuer;
let dir: string;

beforeAll(async () => {
  if (!existsSync(join(ROOT, CLI))) throw new Error(`${CLI} is missing: run npm run build first`);
  github = await startIssuer({ alg: "RS256" });
  gitlab = await startIssuer({ alg: "RS256", path: "/gitlab" });
  dir = await mkdtemp(join(tmpdir(), "trustpub-runtimes-"));
  await writeFile(
    join(dir, "signing.jwks.json"),
    JSON.stringify({ keys: [await generatePrivateJwk("ES256")] }),
  );
});
afterAll(async () => {
  await Promise.all([github?.stop(), gitlab?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

for (const runtime of RUNTIMES) {
  describe(`trustpub serve under ${runtime.name}`, () => {
    let redis: RedisProcess;
    let server: SpawnedServer;

    beforeAll(async () => {
      redis = await startRedis();
      const config = {
        ...baseConfig(github, gitlab, redis),
        signing: { keys_file: "signing.jwks.json" },
      };
      const path = join(dir, `${runtime.name}.json`);
      await writeFile(path, JSON.stringify(config));
      const version = execFileSync(runtime.version[0], runtime.version.slice(1), {
        encoding: "utf8",
      });
      console.log(`${runtime.name}: ${version.split("\n")[0]}`);
      server = await spawnServer(
        runtime.command,
        [...runtime.args, "serve", "--config", path],
        { PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info" },
        ROOT,
      );
    });
    afterAll(async () => {
      await server?.stop();
      await redis?.close();
    });

    const exchange = async (token: string) => {
      const res = await fetch(`${server.url}/v1/exchange`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    it("serves with the Redis replay store and turns ready once Redis is connected", async () => {
      const serving = server.records().find((r) => r.msg === "trustpub is serving");
      expect(serving).toMatchObject({ replay: "redis", issuers: 2, publishers: 2 });
      // /readyz is 503 until the connection to Redis is up: poll it, bounded, as a probe would.
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        status = (await fetch(`${server.url}/readyz`)).status;
      }
      expect(status).toBe(200);
    });

    it("exchanges a CI token once and refuses its replay", async () => {
      const ci = await github.sign(githubClaims(github.url, NPM_AUDIENCE));
      // Rate-limit counters live in Redis too; the claims are the `jti` keys.
      const claims = async () => (await redis.client().keys("trustpub:jti:*")).length;
      const before = await claims();
      const first = await exchange(ci);
      expect(first.status).toBe(200);
      const jwks = await (await fetch(`${server.url}/.well-known/jwks.json`)).json();
      const { payload } = await jwtVerify(first.body.token as string, createLocalJWKSet(jwks), {
        issuer: TRUSTPUB_ISSUER,
        typ: "at+jwt",
      });
      expect(payload.scope).toBe("publish:@acme/demo publish:@acme/demo-*");
      expect(await claims()).toBe(before + 1);

      const replay = await exchange(ci);
      expect(replay.status).toBe(409);
      expect(replay.body.reason).toBe("replayed_token");
      expect(replay.body.token).toBeUndefined();
      expect(await claims()).toBe(before + 1);
    });

    it("answers 503 with no token once Redis is gone, then stops cleanly on SIGTERM", async () => {
      await redis.stop();
      const res = await exchange(await github.sign(githubClaims(github.url, NPM_AUDIENCE)));
      expect(res.status).toBe(503);
      expect(res.body.reason).toBe("unavailable");
      expect(res.body.token).toBeUndefined();
      expect(await server.stop()).toBe("code 0");
      expect(server.records().some((r) => r.msg === "stopped")).toBe(true);
    });
  });
}
