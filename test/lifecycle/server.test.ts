import { readFile, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { githubClaims } from "../support/claims.js";
import {
  type CliRun,
  runCli,
  type ServeProcess,
  startServe,
  tempDir,
  writeYaml,
} from "../support/cli.js";
import { baseConfig, NPM_AUDIENCE, TRUSTPUB_ISSUER } from "../support/harness.js";
import { startIssuer, type TestIssuer } from "../support/issuer.js";

/**
 * The `trustpub` command as operators run it (`node dist/cli.js`): SIGTERM
 * turns unready, drains in-flight requests and exits 0; a bad config never
 * serves and names every problem; `check` and `keys generate` do their jobs.
 */

let github: TestIssuer;
let gitlab: TestIssuer;
let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  [github, gitlab, dir] = await Promise.all([
    startIssuer(),
    startIssuer({ path: "/gitlab" }),
    tempDir(),
  ]);
});
afterAll(async () => {
  await Promise.all([github?.stop(), gitlab?.stop(), dir?.cleanup()]);
});

/** What a finished command printed, shown when its exit code is not the expected one. */
const output = (run: CliRun) => `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The test config on the memory replay store, with the given edits. */
function memoryConfig(edit: (config: Record<string, unknown>) => void = () => {}) {
  const config = baseConfig(github, gitlab);
  edit(config);
  return config;
}

function publishers(config: Record<string, unknown>): Record<string, unknown>[] {
  return config.publishers as Record<string, unknown>[];
}

/** True when a new TCP connection to the port is refused (the listener is closed). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

interface SlowRequest {
  /** Sends the rest of the body and resolves with the answer. */
  finish(): Promise<{ status: number; body: Record<string, unknown> }>;
}

/** Opens POST /v1/exchange and sends only the first half of its body. */
async function startSlowExchange(url: string, token: string): Promise<SlowRequest> {
  const body = Buffer.from(JSON.stringify({ token }));
  const half = Math.floor(body.length / 2);
  const target = new URL("/v1/exchange", url);
  const req = request({
    host: target.hostname,
    port: target.port,
    path: target.pathname,
    method: "POST",
    agent: false,
    headers: { "content-type": "application/json", "content-length": String(body.length) },
  });
  const answer = new Promise<{ status: number; body: Record<string, unknown> }>(
    (resolve, reject) => {
      req.once("error", reject);
      req.once("response", (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.once("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        res.once("error", reject);
      });
    },
  );
  answer.catch(() => {});
  await new Promise<void>((resolve, reject) => {
    req.once("error", reject);
    req.write(body.subarray(0, half), (err) => (err ? reject(err) : resolve()));
  });
  return {
    finish() {
      req.end(body.subarray(half));
      return answer;
    },
  };
}

describe("trustpub serve", () => {
  let server: ServeProcess | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it("on SIGTERM turns unready for shutdown.delay, drains an in-flight request, and exits 0", async () => {
    const config = await writeYaml(
      dir.path,
      "sigterm.yaml",
      memoryConfig((c) => {
        c.shutdown = { delay: "1s", drain_timeout: "10s" };
      }),
    );
    server = await startServe(config);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);

    const ci = await github.sign(githubClaims(github.url, NPM_AUDIENCE));
    const slow = await startSlowExchange(server.url, ci);
    await sleep(100);

    const signalled = Date.now();
    server.signal("SIGTERM");

    // Unready at once, while the process still serves during the delay.
    let ready: Response | undefined;
    for (let i = 0; i < 40; i++) {
      ready = await fetch(`${server.url}/readyz`, { headers: { connection: "close" } });
      if (ready.status === 503) break;
      await ready.body?.cancel();
      await sleep(25);
    }
    expect(ready?.status).toBe(503);
    expect(await ready?.json()).toMatchObject({
      status: "unready",
      checks: { draining: "fail" },
    });
    expect(Date.now() - signalled).toBeLessThan(1_000);
    expect(
      (await fetch(`${server.url}/healthz`, { headers: { connection: "close" } })).status,
    ).toBe(200);

    // After the delay the listener closes; the slow request is still in flight.
    let closed = false;
    for (let i = 0; i < 100 && !closed; i++) {
      closed = await refused(server.port);
      if (!closed) await sleep(50);
    }
    expect(closed).toBe(true);
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(900);
    expect(server.exited()).toBe(false);

    const res = await slow.finish();
    expect(res.status).toBe(200);
    expect(typeof res.body.token).toBe("string");

    const exit = await server.exit;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(server.output()).not.toContain(ci);
    // The drained exchange's audit line was written before the process ended.
    const audit = server
      .output()
      .split("\n")
      .filter((line) => line.startsWith('{"audit":true'))
      .map((line) => JSON.parse(line) as { type: string; outcome: string });
    expect(audit.filter((e) => e.type === "trustpub.exchange")).toEqual([
      expect.objectContaining({ outcome: "success" }),
    ]);
  });

  it("refuses to start on a config with problems, printing every one with its path", async () => {
    const config = await writeYaml(
      dir.path,
      "broken.yaml",
      memoryConfig((c) => {
        const first = publishers(c)[0]!;
        first.match = { ...(first.match as object), environment: ["release", "prod"] };
        (c.registries as Record<string, unknown>).x = {
          flavor: "maven",
          audience: "maven:x",
          token_audience: "https://x.example",
        };
        c.defaults = { clock_skew: "10m" };
      }),
    );
    const run = await runCli(["serve", "--config", config], { env: { PORT: "0" } });
    expect(run.code, output(run)).not.toBe(0);
    expect(run.code, output(run)).not.toBeNull();
    expect(run.stderr).toContain("invalid configuration");
    expect(run.stderr).toContain("publishers[0].match.environment:");
    expect(run.stderr).toContain("registries.x.flavor:");
    expect(run.stderr).toContain("defaults.clock_skew: must be at most 5m");
    expect(run.stdout).not.toContain("trustpub is serving");

    const check = await runCli(["check", "--config", config]);
    expect(check.code, output(check)).toBe(1);
    expect(check.stderr).toContain("publishers[0].match.environment:");
    expect(check.stderr).toContain("registries.x.flavor:");
  });

  it("refuses to start on a config that is not YAML, or not there", async () => {
    const path = join(dir.path, "dup.yaml");
    await writeFile(path, "issuer: https://a.example\nissuer: https://b.example\n");
    const dup = await runCli(["serve", "--config", path]);
    expect(dup.code, output(dup)).toBe(1);
    expect(dup.stderr).toMatch(/unique|duplicate/i);

    const missing = await runCli(["check", "--config", join(dir.path, "nowhere.yaml")]);
    expect(missing.code, output(missing)).toBe(1);
    expect(missing.stdout + missing.stderr).toContain("cannot read config file");
  });
});

describe("trustpub check", () => {
  it("prints ok and exits 0 for a good config", async () => {
    const config = await writeYaml(dir.path, "good.yaml", memoryConfig());
    const run = await runCli(["check", "--config", config]);
    expect(run.code, output(run)).toBe(0);
    expect(run.stdout).toContain(`${config}: ok (2 issuers, 2 registries, 2 publishers)`);
    expect(run.stderr).toBe("");
  });

  it("warns, naming the publisher path, when no immutable id is pinned", async () => {
    const config = await writeYaml(
      dir.path,
      "unpinned.yaml",
      memoryConfig((c) => {
        const list = publishers(c);
        const { repository_owner_id: _, ...match } = list[0]!.match as Record<string, unknown>;
        list.push({ ...list[0]!, id: "acme-demo-unpinned", match });
      }),
    );
    const run = await runCli(["check", "--config", config]);
    expect(run.code, output(run)).toBe(0);
    expect(run.stdout).toContain("ok (2 issuers, 2 registries, 3 publishers, 1 warnings)");
    expect(run.stderr).toMatch(/^warning: publishers\[2\]\.match: pins no immutable id/m);
    expect(run.stderr).toContain("repository_id or repository_owner_id");
    expect(run.stderr).not.toContain("publishers[0]");
    expect(run.stderr).not.toContain("publishers[1]");
  });

  it("refuses dev.demo_issuer with an issuer that is not loopback http", async () => {
    const config = await writeYaml(
      dir.path,
      "demo-public.yaml",
      memoryConfig((c) => {
        c.dev = { demo_issuer: true };
        c.issuer = "https://sts.example.com";
      }),
    );
    const run = await runCli(["check", "--config", config]);
    expect(run.code, output(run)).toBe(1);
    expect(run.stderr).toContain("dev.demo_issuer:");
    expect(run.stdout).not.toContain(": ok");

    const serve = await runCli(["serve", "--config", config], { env: { PORT: "0" } });
    expect(serve.code, output(serve)).toBe(1);
    expect(serve.stderr).toContain("dev.demo_issuer:");
  });

  it("asks for a config file", async () => {
    const run = await runCli(["check"]);
    expect(run.code, output(run)).toBe(2);
    expect(run.stderr).toContain("--config");
  });
});

describe("trustpub keys generate", () => {
  let server: ServeProcess | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it("prints a private EdDSA JWKS that the server signs issued tokens with", async () => {
    const run = await runCli(["keys", "generate", "--alg", "EdDSA"]);
    expect(run.code, output(run)).toBe(0);
    const jwks = JSON.parse(run.stdout) as { keys: (JWK & { status: string })[] };
    expect(jwks.keys).toHaveLength(1);
    const key = jwks.keys[0]!;
    expect(key).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", status: "current" });
    expect(key.d).toEqual(expect.any(String));
    expect(key.kid).toEqual(expect.any(String));

    await writeFile(join(dir.path, "signing.jwks.json"), run.stdout, { mode: 0o600 });
    const config = await writeYaml(
      dir.path,
      "eddsa.yaml",
      memoryConfig((c) => {
        c.signing = { keys_file: "signing.jwks.json" };
      }),
    );
    expect(await readFile(join(dir.path, "signing.jwks.json"), "utf8")).toBe(run.stdout);
    server = await startServe(config);

    const published = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as {
      keys: JWK[];
    };
    expect(published.keys).toHaveLength(1);
    expect(published.keys[0]).toMatchObject({ kid: key.kid, kty: "OKP", alg: "EdDSA" });
    expect(published.keys[0]!.d).toBeUndefined();
    expect(published.keys[0]).not.toHaveProperty("status");

    const ci = await github.sign(githubClaims(github.url, NPM_AUDIENCE));
    const res = await fetch(`${server.url}/v1/exchange`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: ci }),
    });
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    expect(decodeProtectedHeader(token)).toMatchObject({
      alg: "EdDSA",
      kid: key.kid,
      typ: "at+jwt",
    });
    const verified = await jwtVerify(token, createLocalJWKSet(published), {
      issuer: TRUSTPUB_ISSUER,
      algorithms: ["EdDSA"],
    });
    expect(verified.payload.client_id).toBe("acme-demo-release");
    expect(server.output()).not.toContain("ephemeral signing key");
  });

  it("prints one current key for each supported algorithm and refuses others", async () => {
    for (const alg of ["ES256", "RS256"]) {
      const run = await runCli(["keys", "generate", "--alg", alg]);
      expect(run.code, output(run)).toBe(0);
      const { keys } = JSON.parse(run.stdout) as { keys: (JWK & { status: string })[] };
      expect(keys.map((k) => [k.alg, k.status])).toEqual([[alg, "current"]]);
    }
    const bad = await runCli(["keys", "generate", "--alg", "HS256"]);
    expect(bad.code, output(bad)).toBe(2);
    expect(bad.stderr).toContain("--alg must be ES256, EdDSA or RS256");
  });
});
