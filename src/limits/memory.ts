import type { Clock } from "../lib/clock.js";
import type { LimitCheck, LimitDecision, RateLimiter } from "./limiter.js";
import { decide, windowAt } from "./window.js";

/** Keys one memory limiter tracks; past it the least recently used key is forgotten. */
export const MEMORY_LIMITER_MAX_KEYS = 50_000;

interface Counter {
  index: number;
  current: number;
  previous: number;
}

/**
 * One process's limiter: exact for a single replica, and the fallback of the
 * Redis limiter. Bounded: keys come from client addresses an attacker
 * chooses, so at most `maxKeys` counters are kept, least recently used first
 * out (a forgotten key starts again from zero, which errs towards admitting).
 */
export function memoryRateLimiter(
  clock: Clock,
  options: { maxKeys?: number } = {},
): RateLimiter & { size(): number } {
  const maxKeys = options.maxKeys ?? MEMORY_LIMITER_MAX_KEYS;
  const counters = new Map<string, Counter>();
  /** The counter of `key`, moved to `index`'s window and marked most recently used. */
  const counterAt = (key: string, index: number): Counter => {
    let counter = counters.get(key);
    if (counter) {
      counters.delete(key);
      if (counter.index !== index) {
        counter.previous = counter.index === index - 1 ? counter.current : 0;
        counter.current = 0;
        counter.index = index;
      }
    } else {
      if (counters.size >= maxKeys) counters.delete(counters.keys().next().value!);
      counter = { index, current: 0, previous: 0 };
    }
    counters.set(key, counter);
    return counter;
  };
  const takeAll = async (checks: readonly LimitCheck[]): Promise<LimitDecision> => {
    const now = clock.now();
    const counted: Counter[] = [];
    for (const [i, { key, rate }] of checks.entries()) {
      const position = windowAt(now, rate.windowMs);
      const counter = counterAt(key, position.index);
      const decision = decide(counter.previous, counter.current, position, rate);
      if (!decision.allowed) return { ...decision, refusedBy: i };
      counted.push(counter);
    }
    for (const counter of counted) counter.current++;
    return { allowed: true, retryAfterMs: 0 };
  };
  return {
    kind: "memory",
    take: (key, rate) => takeAll([{ key, rate }]),
    takeAll,
    close: async () => counters.clear(),
    size: () => counters.size,
  };
}
