/** At most `limit` events in any sliding window of `windowMs` (config: `100/s`, `600/m`, `10/h`). */
export interface Rate {
  readonly limit: number;
  readonly windowMs: number;
}

export interface LimitDecision {
  readonly allowed: boolean;
  /** When refused: how long until one more event would be admitted. */
  readonly retryAfterMs: number;
  /** When refused by `takeAll`: the position of the check that refused. */
  readonly refusedBy?: number;
}

/** One counter and its rate, for `takeAll`. */
export interface LimitCheck {
  readonly key: string;
  readonly rate: Rate;
}

/**
 * Counts events per key against a rate. Implementations never throw and
 * never wait longer than their store's budget: a limiter that cannot reach
 * its store decides locally instead (see redis.ts), so rate limiting is
 * never the reason a request hangs or fails.
 */
export interface RateLimiter {
  readonly kind: string;
  /** Admits and counts one event for `key`, or refuses it without counting it. */
  take(key: string, rate: Rate): Promise<LimitDecision>;
  /**
   * All or nothing: counts one event on every check when each admits it, or
   * refuses (naming the first check that would not) and counts none, so a
   * refused exchange spends no one's budget. `group` keeps the counters
   * together (one Redis Cluster hash slot, one round trip).
   */
  takeAll(checks: readonly LimitCheck[], group: string): Promise<LimitDecision>;
  close(): Promise<void>;
}
