import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubClaims } from "../support/claims.js";
import { baseConfig, NPM_AUDIENCE, TRUSTPUB_ISSUER } from "../support/harness.js";
import { startIssuer, type TestIssuer } from "../support/issuer.js";
import {
  bundleWorkerForTest,
  startWorker,
  type WorkerBundle,
  type WorkerHarness,
} from "../support/worker.js";

let bundle: WorkerBundle;
let github: TestIssuer;
let gitlab: TestIssuer;
let w: WorkerHarness;

const githubToken = (overrides?: Record<string, unknown>) =>
  github.sign(githubClaims(github.url, NPM_AUDIENCE, overrides));

beforeAll(async () => {
  bundle = await bundleWorkerForTest();
  github = await startIssuer({ alg: "RS256" });
  gitlab = await startIssuer({ alg: "RS256", path: "/gitlab" });
  w = await startWorker({ bundle, config: baseConfig(github, gitlab) });
});
afterAll(async () => {
  await w?.close();
  await Promise.all([github?.stop(), gitlab?.stop()]);
  await bundle?.remove();
});

describe("the Worker bundle", () => {
  it("holds no Node-only module and leaves only cloudflare:workers to the runtime", () => {
    expect(bundle.externals).toEqual(["cloudflare:workers"]);
    const forbidden = bundle.inputs.filter((p) =>
      /node_modules\/(pino|ioredis|@hono\/node-server)\/|^node:|src\/(server|cli)\.ts$|src\/replay\/redis/.test(
        p,
      ),
    );
    expect(forbidden).toEqual([]);
    expect(bundle.inputs).toContain("src/exchange/exchange.ts");
  });
});

describe("exchange under workerd", () => {
  it("exchanges a GitHub Actions token once, fetching the issuer's keys through workerd", async () => {
    github.resetCounts();
    const ci = await githubToken();
    const audited = w.audit().length;
    const before = await w.storedKeys();
    const res = await w.exchange(ci);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body).toMatchObject({
      token_type: "Bearer",
      registry: "npm-internal",
      publishers: ["acme-demo-release"],
    });
    expect(github.requests.discovery).toBeGreaterThanOrEqual(1);
    expect(github.requests.jwks).toBeGreaterThanOrEqual(1);
    expect(await w.storedKeys()).toBe(before + 1);

    const jwks = (await w.request("/.well-known/jwks.json")).body;
    const { payload, protectedHeader } = await jwtVerify(
      res.body.token as string,
      createLocalJWKSet(jwks as never),
      { issuer: TRUSTPUB_ISSUER, typ: "at+jwt" },
    );
    expect(protectedHeader.alg).toBe("ES256");
    expect(payload).toMatchObject({
      sub: "ci:github:repo:acme/demo:environment:release",
      scope: "publish:@acme/demo publish:@acme/demo-*",
    });

    const again = await w.exchange(ci);
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      error: "invalid_request",
      error_description: "token has already been used",
      reason: "replayed_token",
    });
    expect(again.body.token).toBeUndefined();
    expect(await w.storedKeys()).toBe(before + 1);
    const events = w.audit().slice(audited);
    expect(events.map((e) => [e.outcome, e.reason])).toEqual([
      ["success", undefined],
      ["refused", "replayed_token"],
    ]);
    expect(JSON.stringify(w.logs)).not.toContain(ci);
  });

  it("of 50 concurrent exchanges of one token, exactly one succeeds", async () => {
    const ci = await githubToken();
    const before = await w.storedKeys();
    const answers = await Promise.all(Array.from({ length: 50 }, () => w.exchange(ci)));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    expect(answers.filter((a) => typeof a.body.token === "string")).toHaveLength(1);
    for (const a of answers.filter((x) => x.status === 409)) {
      expect(a.body.reason).toBe("replayed_token");
    }
    expect(await w.storedKeys()).toBe(before + 1);
  });

  it("spreads claims over the shards", async () => {
    const tokens = await Promise.all(Array.from({ length: 24 }, () => githubToken()));
    for (const t of tokens) expect((await w.exchange(t)).status).toBe(200);
    const sizes = await Promise.all(
      Array.from({ length: w.shards }, async (_, i) => (await w.shard(i)).size()),
    );
    expect(sizes.filter((n) => n > 0).length).toBeGreaterThan(1);
  });

  it("refuses a token no publisher trusts without writing to the store", async () => {
    const before = await w.storedKeys();
    const res = await w.exchange(await githubToken({ repository_owner_id: "999" }));
    expect(res.status).toBe(403);
    expect(res.body.reason).toBe("no_matching_publisher");
    expect(res.body.token).toBeUndefined();
    expect(await w.storedKeys()).toBe(before);
  });

  it("refuses a token signed by a key the issuer does not publish", async () => {
    const before = await w.storedKeys();
    const stranger = await startIssuer({ alg: "RS256" });
    try {
      const forged = await stranger.sign(githubClaims(github.url, NPM_AUDIENCE), {
        kid: github.key.kid,
      });
      const res = await w.exchange(forged);
      expect(res.status).toBe(401);
      expect(res.body.reason).toBe("invalid_signature");
      expect(res.body.token).toBeUndefined();
      expect(await w.storedKeys()).toBe(before);
    } finally {
      await stranger.stop();
    }
  });

  it("is ready when every shard answers", async () => {
    const res = await w.request("/readyz");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: "ready",
      checks: { draining: "ok", signing_keys: "ok", replay_store: "ok" },
    });
  });
});

describe("fail closed when the Durable Object errors", () => {
  const cases = [
    { fault: "failing", what: "throws" },
    { fault: "stalled", what: "does not answer within replay.command_timeout" },
    { fault: "wrong", what: "answers with the wrong type" },
  ] as const;

  for (const { fault, what } of cases) {
    it(`answers 503 with no token when the object ${what}`, async () => {
      const config = baseConfig(github, gitlab);
      config.replay = { command_timeout: "300ms" };
      const broken = await startWorker({ bundle, config, fault });
      try {
        const started = Date.now();
        const res = await broken.exchange(await githubToken());
        expect(res.status).toBe(503);
        expect(res.body).toMatchObject({
          error: "temporarily_unavailable",
          reason: "unavailable",
        });
        expect(res.body.token).toBeUndefined();
        expect(res.headers.get("retry-after")).toBe("1");
        // Bounded well under the stalled object's 30 s: the timeout answered, not the object.
        expect(Date.now() - started).toBeLessThan(15_000);
        expect(await broken.storedKeys()).toBe(0);
        expect(broken.audit().map((e) => [e.outcome, e.reason])).toEqual([
          ["error", "unavailable"],
        ]);
        if (fault !== "wrong") expect((await broken.request("/readyz")).status).toBe(503);
      } finally {
        await broken.close();
      }
    });
  }
});

describe("config from bindings", () => {
  it("serves the config of deploy/edge/wrangler.toml, given as YAML text", async () => {
    const { readFile } = await import("node:fs/promises");
    const toml = await readFile(
      new URL("../../deploy/edge/wrangler.toml", import.meta.url),
      "utf8",
    );
    const yaml = /^TRUSTPUB_CONFIG = '''\n([\s\S]*?)'''/m.exec(toml)?.[1];
    expect(yaml).toBeDefined();
    expect(toml).toMatch(/class_name = "ReplayShard"/);
    expect(toml).toMatch(/name = "TRUSTPUB_REPLAY"/);
    expect(toml).toMatch(/new_sqlite_classes = \["ReplayShard"\]/);
    const example = await startWorker({ bundle, config: yaml });
    try {
      const res = await example.request("/.well-known/oauth-authorization-server");
      expect(res.status).toBe(200);
      expect(res.body.issuer).toBe("https://sts.example.com");
    } finally {
      await example.close();
    }
  });

  it("refuses to serve without signing keys: an ephemeral key would differ per isolate", async () => {
    const keyless = await startWorker({
      bundle,
      config: baseConfig(github, gitlab),
      signingKeys: null,
    });
    try {
      const res = await keyless.exchange(await githubToken());
      expect(res.status).toBe(500);
      expect(res.body).toEqual({
        error: "server_error",
        error_description: "internal error",
        reason: "internal",
      });
      expect(await keyless.storedKeys()).toBe(0);
      const problems = keyless.logs.filter((l) => l.message.includes("trustpub cannot start"));
      expect(problems[0]?.message).toContain("signing.keys_file: required on Workers");
    } finally {
      await keyless.close();
    }
  });
});
