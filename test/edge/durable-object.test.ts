import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseConfig } from "../support/harness.js";
import { startIssuer, type TestIssuer } from "../support/issuer.js";
import {
  bundleWorkerForTest,
  type ShardRpc,
  startWorker,
  type WorkerBundle,
  type WorkerHarness,
} from "../support/worker.js";

let bundle: WorkerBundle;
let issuer: TestIssuer;
let w: WorkerHarness;
let shard: ShardRpc;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 100 ms until it holds or `limitMs` passes; returns its last result. */
async function eventually(check: () => Promise<boolean>, limitMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

beforeAll(async () => {
  bundle = await bundleWorkerForTest();
  issuer = await startIssuer();
  // A sweep interval of 0 lets the alarm fire as soon as the first row expires.
  w = await startWorker({
    bundle,
    config: baseConfig(issuer, issuer),
    bindings: { TRUSTPUB_REPLAY_SWEEP: "0s" },
  });
  shard = await w.shard(3);
});
afterAll(async () => {
  await w?.close();
  await issuer?.stop();
  await bundle?.remove();
});

describe("ReplayShard (SQLite Durable Object)", () => {
  it("claims a key once until it expires, then treats it as free", async () => {
    const key = `claim-${crypto.randomUUID()}`;
    const exp = Date.now() + 1_000;
    expect(await shard.claim(key, exp)).toBe(true);
    expect(await shard.claim(key, exp + 60_000)).toBe(false);
    expect(await shard.has(key)).toBe(true);
    expect(await eventually(async () => !(await shard.has(key)))).toBe(true);
    expect(await shard.claim(key, Date.now() + 60_000)).toBe(true);
    expect(await shard.has(key)).toBe(true);
  });

  it("exactly one of 50 concurrent claims of one key wins", async () => {
    const key = `race-${crypto.randomUUID()}`;
    const exp = Date.now() + 60_000;
    const results = await Promise.all(Array.from({ length: 50 }, () => shard.claim(key, exp)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("counts in fixed windows for rate limits", async () => {
    const key = `rl-${crypto.randomUUID()}`;
    const first = await shard.incr(key, 1_000);
    expect(first.count).toBe(1);
    expect(first.resetAtMs).toBeGreaterThan(Date.now() - 1_000);
    const counts = await Promise.all(Array.from({ length: 9 }, () => shard.incr(key, 1_000)));
    expect(counts.map((c) => c.count).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const c of counts) expect(c.resetAtMs).toBe(first.resetAtMs);
    expect(
      await eventually(async () => (await shard.incr(key, 1_000)).resetAtMs > first.resetAtMs),
    ).toBe(true);
  });

  it("an alarm sweeps expired rows out of storage", async () => {
    const sweeper = await w.shard(7);
    const now = Date.now();
    for (let i = 0; i < 5; i++) await sweeper.claim(`sweep-${i}-${now}`, now + 300);
    await sweeper.incr(`sweep-rl-${now}`, 300);
    expect(await sweeper.size()).toBeGreaterThanOrEqual(6);
    expect(await eventually(async () => (await sweeper.size()) === 0)).toBe(true);
  });

  it("refuses malformed arguments instead of storing them", async () => {
    const before = await shard.size();
    await expect(shard.claim("", Date.now() + 1_000)).rejects.toThrow();
    await expect(shard.claim("x".repeat(513), Date.now() + 1_000)).rejects.toThrow();
    await expect(shard.claim("k", Number.NaN)).rejects.toThrow();
    await expect(shard.incr("k", 0)).rejects.toThrow();
    await expect(shard.incr("k", 1.5)).rejects.toThrow();
    expect(await shard.size()).toBe(before);
  });

  it("answers a ping", async () => {
    await expect(shard.ping()).resolves.toBeUndefined();
  });
});
