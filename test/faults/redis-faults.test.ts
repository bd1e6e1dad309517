import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, type HttpAnswer, startHarness } from "../support/harness.js";

/**
 * Security case 40: the replay store failing. No claim, no token: trustpub
 * answers 503 `unavailable` quickly (never hangs), says when to retry, reports
 * itself unready, and recovers on its own when Redis is back.
 */

const STOPPED_BOUND_MS = 2_000;
// command_timeout is 500ms in the harness; the answer comes at the timeout, give or take load.
const PAUSED_MIN_MS = 400;
const PAUSED_MAX_MS = 3_000;
const PAUSE_MS = 5_000;
const RECOVERY_ATTEMPTS = 40;
const RECOVERY_PAUSE_MS = 250;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  h?.redis?.resume();
  await h?.close();
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function timedExchange(token: string): Promise<HttpAnswer & { ms: number }> {
  const started = performance.now();
  const res = await h.exchange(token);
  return { ...res, ms: performance.now() - started };
}

function expectUnavailable(res: HttpAnswer): void {
  expect(res.status).toBe(503);
  expect(res.body).toMatchObject({ error: "temporarily_unavailable", reason: "unavailable" });
  expect(res.body.token).toBeUndefined();
  expect(res.text).not.toContain('"token"');
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
}

async function readyz(): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${h.url}/readyz`);
  return { status: res.status, body: await res.json() };
}

/** Exchanges fresh tokens until one succeeds, a bounded number of times. */
async function exchangeUntilOk(): Promise<{ res: HttpAnswer; attempts: number }> {
  let res: HttpAnswer | undefined;
  for (let attempt = 1; attempt <= RECOVERY_ATTEMPTS; attempt++) {
    res = await h.exchange(await h.githubToken());
    if (res.status === 200) return { res, attempts: attempt };
    expectUnavailable(res);
    await sleep(RECOVERY_PAUSE_MS);
  }
  throw new Error(`no exchange succeeded after ${RECOVERY_ATTEMPTS} attempts: ${res?.text}`);
}

/** The replay store's key count once it stops moving back to `expected` (bounded). */
async function storedKeysSettled(expected: number): Promise<number> {
  let count = await h.storedKeys();
  for (let attempt = 1; attempt <= RECOVERY_ATTEMPTS && count !== expected; attempt++) {
    await sleep(RECOVERY_PAUSE_MS);
    count = await h.storedKeys();
  }
  return count;
}

async function readyUntilOk(): Promise<number> {
  for (let attempt = 1; attempt <= RECOVERY_ATTEMPTS; attempt++) {
    if ((await readyz()).status === 200) return attempt;
    await sleep(RECOVERY_PAUSE_MS);
  }
  throw new Error("/readyz never answered 200");
}

describe("case 40: Redis faults", () => {
  it("works with Redis up", async () => {
    expect((await h.exchange(await h.githubToken())).status).toBe(200);
    expect((await readyz()).status).toBe(200);
  });

  it("answers 503 within about a second while Redis is stopped, and is unready", async () => {
    const redis = h.redis!;
    await redis.stop();
    try {
      const ci = await h.githubToken();
      const audit = h.audit.events.length;
      const res = await timedExchange(ci);
      expectUnavailable(res);
      expect(res.ms).toBeLessThan(STOPPED_BOUND_MS);
      expect(h.audit.events.slice(audit).map((e) => [e.outcome, e.reason])).toEqual([
        ["error", "unavailable"],
      ]);

      // Again: a stopped Redis never turns into a hang.
      const again = await timedExchange(await h.githubToken());
      expectUnavailable(again);
      expect(again.ms).toBeLessThan(STOPPED_BOUND_MS);

      const ready = await readyz();
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: "unready", checks: { replay_store: "fail" } });

      await redis.start();
      await readyUntilOk();
      expect(await h.storedKeys()).toBe(0);
      // The token refused while Redis was down was not burnt: it exchanges now.
      const later = await h.exchange(ci);
      expect(later.status).toBe(200);
      expect(typeof later.body.token).toBe("string");
    } finally {
      await redis.start();
    }
  });

  it("answers 503 at the command timeout while Redis is paused (SIGSTOP)", async () => {
    const redis = h.redis!;
    await readyUntilOk();
    const before = await h.storedKeys();
    const ci = await h.githubToken();
    redis.pause();
    const pausedAt = performance.now();
    try {
      const res = await timedExchange(ci);
      expectUnavailable(res);
      expect(res.ms).toBeGreaterThanOrEqual(PAUSED_MIN_MS);
      expect(res.ms).toBeLessThan(PAUSED_MAX_MS);

      // Concurrent exchanges do not queue behind each other: each fails at the timeout.
      const tokens = await Promise.all(Array.from({ length: 10 }, () => h.githubToken()));
      const burst = await Promise.all(tokens.map((t) => timedExchange(t)));
      for (const r of burst) {
        expectUnavailable(r);
        expect(r.ms).toBeLessThan(PAUSED_MAX_MS);
      }

      const ready = await readyz();
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ checks: { replay_store: "fail" } });

      // Stay paused for 5 s in all, as in the case; trustpub keeps answering.
      while (performance.now() - pausedAt < PAUSE_MS) {
        const r = await timedExchange(await h.githubToken());
        expectUnavailable(r);
        expect(r.ms).toBeLessThan(PAUSED_MAX_MS);
      }
    } finally {
      redis.resume();
    }
    await readyUntilOk();
    // The SETs queued while paused run when Redis resumes; each timed-out claim
    // is taken back right behind its SET, so nothing stays written and the
    // refused token exchanges once on retry, as Retry-After invites.
    expect(await storedKeysSettled(before)).toBe(before);
    const retry = await h.exchange(ci);
    expect(retry.status).toBe(200);
    expect(typeof retry.body.token).toBe("string");
  });

  it("recovers after a Redis restart on the same port without restarting trustpub", async () => {
    const redis = h.redis!;
    const port = redis.port;
    await redis.stop();
    expect(redis.pid()).toBeUndefined();
    expectUnavailable(await h.exchange(await h.githubToken()));
    expect((await readyz()).status).toBe(503);

    await redis.start();
    expect(redis.port).toBe(port);
    const { res } = await exchangeUntilOk();
    expect(res.status).toBe(200);
    expect(typeof res.body.token).toBe("string");
    expect(await h.storedKeys()).toBe(1);
    expect((await readyz()).status).toBe(200);

    // Replay protection is back as well.
    const ci = await h.githubToken();
    expect((await h.exchange(ci)).status).toBe(200);
    const stored = await h.storedKeys();
    const replay = await h.exchange(ci);
    expect(replay.status).toBe(409);
    expect(replay.body.reason).toBe("replayed_token");
    expect(await h.storedKeys()).toBe(stored);
  });
});
