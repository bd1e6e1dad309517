import { describe, expect, it } from "vitest";
import { memoryRateLimiter } from "../../src/limits/memory.js";

function fixedClock(start: number) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

describe("memory rate limiter", () => {
  it("admits the rate, refuses the rest with an exact Retry-After, and does not count refusals", async () => {
    const clock = fixedClock(1_000_000);
    const limiter = memoryRateLimiter(clock);
    const rate = { limit: 3, windowMs: 1000 };
    for (let i = 0; i < 3; i++) expect((await limiter.take("k", rate)).allowed).toBe(true);
    const refused = await limiter.take("k", rate);
    expect(refused.allowed).toBe(false);
    // The window is full: wait for the next window, then for 1/3 of it to slide by.
    expect(refused.retryAfterMs).toBeCloseTo(1000 + 1000 / 3, 0);
    for (let i = 0; i < 100; i++) expect((await limiter.take("k", rate)).allowed).toBe(false);
    clock.t += refused.retryAfterMs + 1;
    expect((await limiter.take("k", rate)).allowed).toBe(true);
  });

  it("slides: the previous window's count weighs in proportionally", async () => {
    const clock = fixedClock(10_000);
    const limiter = memoryRateLimiter(clock);
    const rate = { limit: 10, windowMs: 1000 };
    for (let i = 0; i < 10; i++) await limiter.take("k", rate);
    clock.t += 1500; // half of the previous window still counts: 5 of 10 used
    let admitted = 0;
    for (let i = 0; i < 10; i++) if ((await limiter.take("k", rate)).allowed) admitted++;
    expect(admitted).toBe(5);
    clock.t += 2000; // both windows have slid out
    admitted = 0;
    for (let i = 0; i < 20; i++) if ((await limiter.take("k", rate)).allowed) admitted++;
    expect(admitted).toBe(10);
  });

  it("keys are independent", async () => {
    const limiter = memoryRateLimiter(fixedClock(0));
    const rate = { limit: 1, windowMs: 60_000 };
    expect((await limiter.take("a", rate)).allowed).toBe(true);
    expect((await limiter.take("a", rate)).allowed).toBe(false);
    expect((await limiter.take("b", rate)).allowed).toBe(true);
  });

  it("is bounded: past its cap the least recently used key is forgotten", async () => {
    const limiter = memoryRateLimiter(fixedClock(0), { maxKeys: 100 });
    const rate = { limit: 1, windowMs: 60_000 };
    await limiter.take("kept", rate);
    for (let i = 0; i < 10_000; i++) {
      await limiter.take(`attacker-${i}`, rate);
      if (i % 50 === 0) await limiter.take("kept", rate); // stays recently used
    }
    expect(limiter.size()).toBe(100);
    expect((await limiter.take("kept", rate)).allowed).toBe(false);
  });

  it("takes several checks all or nothing, naming the one that refused", async () => {
    const limiter = memoryRateLimiter(fixedClock(1_000_000));
    const wide = { limit: 3, windowMs: 60_000 };
    const narrow = { limit: 1, windowMs: 60_000 };
    const checks = [
      { key: "issuer:a", rate: wide },
      { key: "publisher:p", rate: narrow },
    ];
    expect(await limiter.takeAll(checks, "issuer:a")).toEqual({ allowed: true, retryAfterMs: 0 });
    for (let i = 0; i < 5; i++) {
      const refused = await limiter.takeAll(checks, "issuer:a");
      expect(refused.allowed).toBe(false);
      expect(refused.refusedBy).toBe(1);
    }
    // The refused attempts counted nothing on the issuer: two of its three remain.
    expect((await limiter.take("issuer:a", wide)).allowed).toBe(true);
    expect((await limiter.take("issuer:a", wide)).allowed).toBe(true);
    expect(await limiter.take("issuer:a", wide)).toMatchObject({ allowed: false, refusedBy: 0 });
  });
});
