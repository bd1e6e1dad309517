import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RateLimiter } from "../../src/limits/limiter.js";
import { memoryRateLimiter } from "../../src/limits/memory.js";
import { redisRateLimiter } from "../../src/limits/redis.js";
import { createRedisClient } from "../../src/replay/redis-client.js";
import { memoryLogger } from "../../src/telemetry/logger.js";
import { type RedisProcess, startRedis } from "../support/redis.js";

let redis: RedisProcess;
const logs = memoryLogger();
const clock = { now: () => Date.now() };
const limiters: RateLimiter[] = [];

function replica(): RateLimiter {
  const limiter = redisRateLimiter(createRedisClient(redis.url, 500, logs), {
    prefix: "trustpub:",
    clock,
    logger: logs,
    timeoutMs: 250,
    retryAfterFailureMs: 300,
    fallback: memoryRateLimiter(clock),
  });
  limiters.push(limiter);
  return limiter;
}

async function ready(limiter: RateLimiter, key: string): Promise<void> {
  // A fresh client connects in the background; until then the limiter decides locally.
  for (let i = 0; i < 100; i++) {
    await limiter.take(`warmup:${key}:${i}`, { limit: 1000, windowMs: 60_000 });
    if ((await redis.client().keys(`trustpub:rl:{warmup:${key}:${i}}:*`)).length > 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the limiter never reached redis");
}

async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await run();
  return [result, performance.now() - started];
}

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(limiters.map((l) => l.close()));
  await redis?.close();
});

describe("redis rate limiter", () => {
  it("shares one budget across replicas, atomically", async () => {
    const a = replica();
    const b = replica();
    await Promise.all([ready(a, "a"), ready(b, "b")]);
    const rate = { limit: 25, windowMs: 60_000 };
    const decisions = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).take("publisher:shared", rate)),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(25);
    const refused = decisions.find((d) => !d.allowed)!;
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(2 * 60_000);
    const keys = await redis.client().keys("trustpub:rl:{publisher:shared}:*");
    expect(keys).toHaveLength(1);
    expect(Number(await redis.client().get(keys[0]!))).toBe(25);
    const ttl = await redis.client().pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(121_000);
  });

  it("fails open to per-replica limits at once when redis is stopped, and shares again once it is back", async () => {
    const limiter = replica();
    await ready(limiter, "stop");
    const rate = { limit: 3, windowMs: 60_000 };
    await redis.stop();
    try {
      const [decisions, ms] = await timed(() =>
        Promise.all(Array.from({ length: 5 }, () => limiter.take("client:stopped", rate))),
      );
      // Still limited, by this replica alone, and without waiting for redis.
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false, false]);
      expect(ms).toBeLessThan(1000);
      expect(logs.records.some((r) => r.msg.includes("limiting per replica"))).toBe(true);
    } finally {
      await redis.start();
    }
    await ready(limiter, "restarted");
    expect((await limiter.take("client:after-restart", rate)).allowed).toBe(true);
    expect(await redis.client().keys("trustpub:rl:{client:after-restart}:*")).toHaveLength(1);
  });

  it("waits at most its budget for a paused redis, then decides locally", async () => {
    const limiter = replica();
    await ready(limiter, "pause");
    const rate = { limit: 2, windowMs: 60_000 };
    redis.pause();
    try {
      const [first, firstMs] = await timed(() => limiter.take("client:paused", rate));
      expect(first.allowed).toBe(true);
      expect(firstMs).toBeGreaterThanOrEqual(200);
      expect(firstMs).toBeLessThan(1500);
      // Redis is not asked again for a while: the next decisions are immediate.
      const [rest, restMs] = await timed(() =>
        Promise.all([limiter.take("client:paused", rate), limiter.take("client:paused", rate)]),
      );
      expect(rest.map((d) => d.allowed)).toEqual([true, false]);
      expect(restMs).toBeLessThan(200);
    } finally {
      redis.resume();
    }
    await ready(limiter, "resumed");
  });

  it("takes a group of checks in one script, all or nothing, across replicas", async () => {
    const a = replica();
    const b = replica();
    await Promise.all([ready(a, "group-a"), ready(b, "group-b")]);
    const checks = [
      { key: "issuer:g", rate: { limit: 1000, windowMs: 60_000 } },
      { key: "publisher:g1", rate: { limit: 10, windowMs: 60_000 } },
    ];
    const decisions = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).takeAll(checks, "issuer:g")),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(new Set(decisions.filter((d) => !d.allowed).map((d) => d.refusedBy))).toEqual(
      new Set([1]),
    );
    const client = redis.client();
    const [issuerKey] = await client.keys("trustpub:rl:{issuer:g}:[0-9]*");
    const [publisherKey] = await client.keys("trustpub:rl:{issuer:g}:publisher:g1:*");
    // Only the admitted exchanges were counted, on both counters.
    expect(Number(await client.get(issuerKey!))).toBe(10);
    expect(Number(await client.get(publisherKey!))).toBe(10);
  });
});
