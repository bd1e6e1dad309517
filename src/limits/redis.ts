import type { Clock } from "../lib/clock.js";
import type { RedisClient } from "../replay/redis.js";
import type { Logger } from "../telemetry/logger.js";
import type { LimitDecision, Rate, RateLimiter } from "./limiter.js";
import { MEMORY_LIMITER_MAX_KEYS } from "./memory.js";
import { decide, windowAt } from "./window.js";

/**
 * One round trip, atomic on the server: read the current and previous
 * windows' counts, and count this event only if the sliding window has room.
 * KEYS[1] current window, KEYS[2] previous window (same hash slot);
 * ARGV: limit, weight of the previous window, TTL of the current key in ms.
 */
const TAKE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[2]) + current + 1 > tonumber(ARGV[1]) then
  return {0, current, previous}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, current, previous}
`;

const COMMAND = "trustpubRateTake";

type TakeCommand = (
  current: string,
  previous: string,
  limit: number,
  weight: string,
  ttlMs: number,
) => Promise<[number, number, number]>;

export interface RedisLimiterOptions {
  /** Key prefix, e.g. `trustpub:`; counters live under `{prefix}rl:`. */
  readonly prefix: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Longest wait for Redis before deciding locally; keep it under the replay command timeout. */
  readonly timeoutMs: number;
  /** After a failure, decide locally this long before trying Redis again. */
  readonly retryAfterFailureMs?: number;
  /** Decides while Redis cannot: a memory limiter (per-replica limits). */
  readonly fallback: RateLimiter;
}

/**
 * Limits shared by every replica through Redis (single node, Sentinel or
 * Cluster; both keys of a check share a hash tag). Fails open to a local
 * limiter: when Redis is down, paused or slow, each replica enforces the
 * limits on its own instead of refusing everything or waiting. The exchange
 * itself still fails closed, since its JTI claim needs Redis (docs/rate-limits.md).
 *
 * A refusal is remembered locally until its Retry-After: counts only grow
 * within a window, so Redis would refuse the same key until then too, and a
 * flooding client costs no Redis round trip after its first refusal.
 */
export function redisRateLimiter(client: RedisClient, options: RedisLimiterOptions): RateLimiter {
  const retryAfterFailureMs = options.retryAfterFailureMs ?? 1000;
  client.defineCommand(COMMAND, { numberOfKeys: 2, lua: TAKE_SCRIPT });
  const take = (client as unknown as Record<string, TakeCommand>)[COMMAND]!.bind(client);
  const refusedUntil = new Map<string, number>();
  let localUntil = Number.NEGATIVE_INFINITY;
  let degraded = false;

  const degrade = (why: string) => {
    localUntil = options.clock.now() + retryAfterFailureMs;
    if (!degraded) {
      degraded = true;
      options.logger.warn({ err: why }, "rate limiter cannot reach redis; limiting per replica");
    }
  };

  async function shared(key: string, rate: Rate): Promise<LimitDecision> {
    const position = windowAt(options.clock.now(), rate.windowMs);
    const base = `${options.prefix}rl:{${key}}:`;
    const [counted, current, previous] = await withTimeout(
      take(
        `${base}${position.index}`,
        `${base}${position.index - 1}`,
        rate.limit,
        position.weight.toFixed(6),
        2 * rate.windowMs + 1000,
      ),
      options.timeoutMs,
    );
    if (counted === 1) return { allowed: true, retryAfterMs: 0 };
    const refused = decide(previous, current, position, rate);
    // The script rounds the weight; at the very edge it may refuse what decide() would admit.
    return refused.allowed ? { allowed: false, retryAfterMs: 1 } : refused;
  }

  return {
    kind: "redis",
    async take(key, rate) {
      const now = options.clock.now();
      const until = refusedUntil.get(key);
      if (until !== undefined) {
        if (now < until) return { allowed: false, retryAfterMs: until - now };
        refusedUntil.delete(key);
      }
      if (client.status !== "ready") degrade(`redis connection is ${client.status}`);
      if (now < localUntil) return options.fallback.take(key, rate);
      try {
        const decision = await shared(key, rate);
        if (!decision.allowed) {
          if (refusedUntil.size >= MEMORY_LIMITER_MAX_KEYS) {
            refusedUntil.delete(refusedUntil.keys().next().value!);
          }
          refusedUntil.set(key, now + decision.retryAfterMs);
        }
        if (degraded) {
          degraded = false;
          options.logger.info({}, "rate limiter reaches redis again; limits are shared");
        }
        return decision;
      } catch (err) {
        degrade((err as Error)?.message ?? String(err));
        return options.fallback.take(key, rate);
      }
    },
    close: async () => {
      refusedUntil.clear();
      await options.fallback.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
