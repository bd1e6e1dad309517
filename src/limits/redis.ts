import type { Clock } from "../lib/clock.js";
import type { RedisClient } from "../replay/redis.js";
import type { Logger } from "../telemetry/logger.js";
import type { LimitCheck, LimitDecision, RateLimiter } from "./limiter.js";
import { MEMORY_LIMITER_MAX_KEYS } from "./memory.js";
import { decide, windowAt } from "./window.js";

/**
 * One round trip, atomic on the server, all or nothing: read each check's
 * current and previous windows; if any sliding window is full, refuse
 * (naming which) and count nothing; otherwise count the event on every one.
 * KEYS: per check its current then previous window (one hash slot);
 * ARGV: per check its limit, the previous window's weight, and the current
 * key's TTL in ms. Answers {1, 0, 0, 0} or {0, check (1-based), current, previous}.
 */
const TAKE_SCRIPT = `
local checks = #KEYS / 2
for i = 1, checks do
  local current = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  if previous * tonumber(ARGV[3 * i - 1]) + current + 1 > tonumber(ARGV[3 * i - 2]) then
    return {0, i, current, previous}
  end
end
for i = 1, checks do
  if redis.call('INCR', KEYS[2 * i - 1]) == 1 then
    redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[3 * i])
  end
end
return {1, 0, 0, 0}
`;

const COMMAND = "trustpubRateTakeAll";

type TakeCommand = (
  numberOfKeys: number,
  ...keysThenArgs: (string | number)[]
) => Promise<[number, number, number, number]>;

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
  client.defineCommand(COMMAND, { lua: TAKE_SCRIPT });
  const takeCommand = (client as unknown as Record<string, TakeCommand>)[COMMAND]!.bind(client);
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

  /** Every counter of a group shares the group's hash tag: one slot, so one script sees them all. */
  const base = (key: string, group: string) =>
    key === group ? `${options.prefix}rl:{${key}}:` : `${options.prefix}rl:{${group}}:${key}:`;

  async function shared(checks: readonly LimitCheck[], group: string): Promise<LimitDecision> {
    const now = options.clock.now();
    const positions = checks.map(({ rate }) => windowAt(now, rate.windowMs));
    const keys: string[] = [];
    const args: (string | number)[] = [];
    checks.forEach(({ key, rate }, i) => {
      const position = positions[i]!;
      keys.push(`${base(key, group)}${position.index}`, `${base(key, group)}${position.index - 1}`);
      args.push(rate.limit, position.weight.toFixed(6), 2 * rate.windowMs + 1000);
    });
    const [counted, check, current, previous] = await withTimeout(
      takeCommand(keys.length, ...keys, ...args),
      options.timeoutMs,
    );
    if (counted === 1) return { allowed: true, retryAfterMs: 0 };
    const refusedBy = check - 1;
    const refused = decide(previous, current, positions[refusedBy]!, checks[refusedBy]!.rate);
    // The script rounds the weight; at the very edge it may refuse what decide() would admit.
    return refused.allowed
      ? { allowed: false, retryAfterMs: 1, refusedBy }
      : { ...refused, refusedBy };
  }

  /** A refusal remembered locally, while it lasts. */
  const remembered = (checks: readonly LimitCheck[], now: number): LimitDecision | undefined => {
    for (const [i, { key }] of checks.entries()) {
      const until = refusedUntil.get(key);
      if (until === undefined) continue;
      if (now < until) return { allowed: false, retryAfterMs: until - now, refusedBy: i };
      refusedUntil.delete(key);
    }
    return undefined;
  };

  async function takeAll(checks: readonly LimitCheck[], group: string): Promise<LimitDecision> {
    const now = options.clock.now();
    const memo = remembered(checks, now);
    if (memo) return memo;
    if (client.status !== "ready") degrade(`redis connection is ${client.status}`);
    if (now < localUntil) return options.fallback.takeAll(checks, group);
    try {
      const decision = await shared(checks, group);
      if (!decision.allowed) {
        if (refusedUntil.size >= MEMORY_LIMITER_MAX_KEYS) {
          refusedUntil.delete(refusedUntil.keys().next().value!);
        }
        refusedUntil.set(checks[decision.refusedBy!]!.key, now + decision.retryAfterMs);
      }
      if (degraded) {
        degraded = false;
        options.logger.info({}, "rate limiter reaches redis again; limits are shared");
      }
      return decision;
    } catch (err) {
      degrade((err as Error)?.message ?? String(err));
      return options.fallback.takeAll(checks, group);
    }
  }

  return {
    kind: "redis",
    take: (key, rate) => takeAll([{ key, rate }], key),
    takeAll,
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
