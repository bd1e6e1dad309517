import type { Clock } from "../lib/clock.js";
import type { RateLimiter } from "./limiter.js";
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
  return {
    kind: "memory",
    async take(key, rate) {
      const position = windowAt(clock.now(), rate.windowMs);
      let counter = counters.get(key);
      if (counter) {
        counters.delete(key);
        if (counter.index !== position.index) {
          counter.previous = counter.index === position.index - 1 ? counter.current : 0;
          counter.current = 0;
          counter.index = position.index;
        }
      } else {
        if (counters.size >= maxKeys) counters.delete(counters.keys().next().value!);
        counter = { index: position.index, current: 0, previous: 0 };
      }
      counters.set(key, counter);
      const decision = decide(counter.previous, counter.current, position, rate);
      if (decision.allowed) counter.current++;
      return decision;
    },
    close: async () => counters.clear(),
    size: () => counters.size,
  };
}
