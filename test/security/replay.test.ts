import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jtiKey } from "../../src/replay/store.js";
import { githubClaims, gitlabClaims } from "../support/claims.js";
import { type ServeProcess, startServe, tempDir, writeYaml } from "../support/cli.js";
import { reencode } from "../support/forge.js";
import {
  type Harness,
  type HttpAnswer,
  NPM_AUDIENCE,
  PYPI_AUDIENCE,
  startHarness,
} from "../support/harness.js";

/**
 * Security cases C (28-31): a CI token is exchanged once. The claim is on
 * `(iss, jti)` in Redis with one atomic SET NX, so a replay is refused however
 * it is dressed up and however many replicas it is sent to at once.
 */

const PREFIX = "trustpub:";
const SKEW_MS = 30_000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const jtiKeys = () => h.redis!.client().keys(`${PREFIX}jti:*`);

function expectReplayed(res: HttpAnswer): void {
  expect(res.status).toBe(409);
  expect(res.body).toEqual({
    error: "invalid_request",
    error_description: "token has already been used",
    reason: "replayed_token",
  });
  expect(res.body.token).toBeUndefined();
}

describe("case 28: the same token twice", () => {
  it("exchanges the first time and refuses the second without writing anything", async () => {
    const ci = await h.githubToken();
    const first = await h.exchange(ci);
    expect(first.status).toBe(200);
    expect(typeof first.body.token).toBe("string");
    const stored = await h.storedKeys();

    const second = await h.exchange(ci);
    expectReplayed(second);
    expect(await h.storedKeys()).toBe(stored);
  });
});

describe("case 29: the same token 50 times in parallel across two processes", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let child: ServeProcess;

  beforeAll(async () => {
    dir = await tempDir();
    // The same config as the in-process trustpub: same issuers, same Redis.
    const config = await writeYaml(dir.path, "trustpub.yaml", h.config);
    child = await startServe(config);
  });
  afterAll(async () => {
    await child?.stop();
    await dir?.cleanup();
  });

  it("has two replicas sharing one Redis", async () => {
    expect(child.url).not.toBe(h.url);
    expect(child.pid).not.toBe(process.pid);
    const ready = await fetch(`${child.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { replay_store: "ok" } });
  });

  it("lets exactly one of 50 concurrent exchanges succeed and stores exactly one JTI", async () => {
    const claims = githubClaims(h.github.url, NPM_AUDIENCE);
    const ci = await h.github.sign(claims);
    const key = await jtiKey(PREFIX, h.github.url, claims.jti);
    const before = await jtiKeys();
    expect(before).not.toContain(key);

    const send = (url: string) =>
      fetch(`${url}/v1/exchange`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: ci }),
      }).then(async (res) => ({ via: url, status: res.status, body: await res.json() }));
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => send(i % 2 === 0 ? h.url : child.url)),
    );

    const ok = answers.filter((a) => a.status === 200);
    const replayed = answers.filter((a) => a.status === 409);
    expect(ok).toHaveLength(1);
    expect(replayed).toHaveLength(49);
    expect(typeof ok[0]!.body.token).toBe("string");
    for (const r of replayed) {
      expect(r.body.reason).toBe("replayed_token");
      expect(r.body.token).toBeUndefined();
    }
    // Both replicas took part in the race: each answered its 25.
    expect(answers.filter((a) => a.via === child.url)).toHaveLength(25);
    expect(replayed.filter((a) => a.via === child.url).length).toBeGreaterThanOrEqual(24);
    expect(replayed.filter((a) => a.via === h.url).length).toBeGreaterThanOrEqual(24);

    const after = await jtiKeys();
    expect(after).toHaveLength(before.length + 1);
    expect(after.filter((k) => !before.includes(k))).toEqual([key]);
  });

  it("refuses on one replica a token already exchanged on the other", async () => {
    const ci = await h.githubToken();
    expect((await h.exchange(ci)).status).toBe(200);
    const stored = await h.storedKeys();
    const res = await fetch(`${child.url}/v1/exchange`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: ci }),
    });
    expect(res.status).toBe(409);
    const body = await res.json();
    expect(body.reason).toBe("replayed_token");
    expect(body.token).toBeUndefined();
    expect(await h.storedKeys()).toBe(stored);
  });
});

describe("case 30: the same claims re-encoded after use", () => {
  it("refuses another valid signature over the same payload: the key is (iss, jti)", async () => {
    const ci = await h.githubToken();
    expect((await h.exchange(ci)).status).toBe(200);
    const stored = await h.storedKeys();

    const again = await reencode(ci, h.github.key.privateKey, h.github.key.kid);
    expect(again).not.toBe(ci);
    expect(again.split(".")[1]).toBe(ci.split(".")[1]);
    expectReplayed(await h.exchange(again));
    expect(await h.storedKeys()).toBe(stored);
  });

  it("refuses a new token carrying a used jti, whatever else changed", async () => {
    const first = githubClaims(h.github.url, NPM_AUDIENCE);
    expect((await h.exchange(await h.github.sign(first))).status).toBe(200);
    const stored = await h.storedKeys();

    const later = await h.githubToken({ jti: first.jti, run_id: "1111111111", iat: first.iat + 1 });
    expectReplayed(await h.exchange(later));
    expect(await h.storedKeys()).toBe(stored);
  });
});

describe("case 31: the same jti from two issuers", () => {
  it("exchanges both, under two keys whose TTL covers exp plus the skew", async () => {
    const jti = `shared-${crypto.randomUUID()}`;
    const gh = githubClaims(h.github.url, NPM_AUDIENCE, { jti });
    const gl = gitlabClaims(h.gitlab.url, PYPI_AUDIENCE, { jti });
    const before = await jtiKeys();

    const started = Date.now();
    expect((await h.exchange(await h.github.sign(gh))).status).toBe(200);
    expect((await h.exchange(await h.gitlab.sign(gl))).status).toBe(200);

    const ghKey = await jtiKey(PREFIX, h.github.url, jti);
    const glKey = await jtiKey(PREFIX, h.gitlab.url, jti);
    expect(ghKey).not.toBe(glKey);
    const added = (await jtiKeys()).filter((k) => !before.includes(k)).sort();
    expect(added).toEqual([ghKey, glKey].sort());

    for (const [key, exp] of [
      [ghKey, gh.exp],
      [glKey, gl.exp],
    ] as const) {
      const measured = Date.now();
      const pttl = await h.redis!.client().pttl(key);
      // The key lives until (exp + skew): at least exp + skew from when it was read,
      // at most exp + skew from before it was written.
      expect(pttl).toBeGreaterThan(exp * 1000 + SKEW_MS - measured - 1_000);
      expect(pttl).toBeLessThanOrEqual(exp * 1000 + SKEW_MS - started);
      expect(pttl).toBeGreaterThan(exp * 1000 - Date.now());
    }

    // Each is still single-use under its own issuer.
    const stored = await h.storedKeys();
    expectReplayed(await h.exchange(await h.github.sign(gh)));
    expect(await h.storedKeys()).toBe(stored);
  });
});
