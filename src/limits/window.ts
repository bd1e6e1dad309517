import type { LimitDecision, Rate } from "./limiter.js";

/**
 * The sliding-window counter both limiters share. Time is cut into fixed
 * windows; the count over the last `windowMs` is estimated as the current
 * window's count plus the previous window's count weighted by how much of
 * the previous window the sliding window still covers. Only admitted events
 * are counted, so a client that keeps retrying while refused still gets its
 * full rate once it slows down, and Retry-After is exact for it.
 */
export interface WindowPosition {
  /** Which fixed window `now` falls in. */
  readonly index: number;
  /** Milliseconds since that window started. */
  readonly elapsedMs: number;
  /** Share of the previous window still inside the sliding window, in (0, 1]. */
  readonly weight: number;
}

export function windowAt(nowMs: number, windowMs: number): WindowPosition {
  const index = Math.floor(nowMs / windowMs);
  const elapsedMs = nowMs - index * windowMs;
  return { index, elapsedMs, weight: 1 - elapsedMs / windowMs };
}

export function admits(previous: number, current: number, weight: number, limit: number): boolean {
  return previous * weight + current + 1 <= limit;
}

/** The decision for counts read at `position`, with the wait until one more event fits. */
export function decide(
  previous: number,
  current: number,
  position: WindowPosition,
  rate: Rate,
): LimitDecision {
  if (admits(previous, current, position.weight, rate.limit))
    return { allowed: true, retryAfterMs: 0 };
  return { allowed: false, retryAfterMs: retryAfterMs(previous, current, position, rate) };
}

function retryAfterMs(
  previous: number,
  current: number,
  position: WindowPosition,
  rate: Rate,
): number {
  const { limit, windowMs } = rate;
  if (current + 1 <= limit && previous > 0) {
    // Room in this window once enough of the previous window has slid out.
    const fraction = 1 - (limit - 1 - current) / previous;
    return Math.max(0, fraction * windowMs - position.elapsedMs);
  }
  // This window is full: wait for the next one, then for this one's count to slide out.
  const fraction = current > 0 ? Math.max(0, 1 - (limit - 1) / current) : 0;
  return windowMs - position.elapsedMs + fraction * windowMs;
}
