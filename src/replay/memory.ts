import type { Clock } from "../lib/clock.js";
import type { ReplayStore } from "./store.js";

const SWEEP_EVERY = 1024;

/**
 * One process's replay store. Correct for a single replica only: a second
 * replica has its own map and would accept the same token again.
 */
export function memoryReplayStore(clock: Clock): ReplayStore & { size(): number } {
  const entries = new Map<string, number>();
  let writes = 0;

  const sweep = () => {
    const now = clock.now();
    for (const [key, exp] of entries) if (exp <= now) entries.delete(key);
  };
  const live = (key: string) => {
    const exp = entries.get(key);
    return exp !== undefined && exp > clock.now();
  };

  return {
    kind: "memory",
    async claim(key, expiresAtMs) {
      if (++writes % SWEEP_EVERY === 0) sweep();
      if (live(key)) return false;
      entries.set(key, expiresAtMs);
      return true;
    },
    has: async (key) => live(key),
    ping: async () => {},
    close: async () => entries.clear(),
    size: () => entries.size,
  };
}
