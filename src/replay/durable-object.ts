import { DurableObject, type DurableObjectState, type SqlStorage } from "cloudflare:workers";
import { parseDuration } from "../lib/duration.js";
import type { CounterValue } from "./durable-object-store.js";

/** How often, at most, a shard sweeps expired rows (the `TRUSTPUB_REPLAY_SWEEP` binding). */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
const MAX_KEY_LENGTH = 512;
const MAX_WINDOW_MS = 86_400_000;

interface ShardEnv {
  readonly TRUSTPUB_REPLAY_SWEEP?: string | undefined;
}

/**
 * One shard of the replay store on Cloudflare Workers: a SQLite-backed
 * Durable Object. An object runs one event at a time and its SQL calls are
 * synchronous, so each method below is atomic without a lock, and the
 * runtime's output gate holds the answer until the write is durable.
 *
 * Rows carry their own expiry (`exp`, epoch ms) and an expired row counts as
 * absent when read, as a Redis key past its PXAT does. An alarm deletes
 * expired rows at most once per sweep interval; it bounds storage, never
 * correctness. RPC methods: `claim`, `has`, `incr`, `ping`, `size`.
 */
export class ReplayShard extends DurableObject<ShardEnv> {
  private readonly sql: SqlStorage;
  private readonly sweepIntervalMs: number;

  constructor(ctx: DurableObjectState, env: ShardEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sweepIntervalMs =
      parseDuration(env.TRUSTPUB_REPLAY_SWEEP ?? "") ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, exp INTEGER NOT NULL) WITHOUT ROWID",
    );
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, exp INTEGER NOT NULL) WITHOUT ROWID",
    );
    this.sql.exec("CREATE INDEX IF NOT EXISTS claims_exp ON claims (exp)");
    this.sql.exec("CREATE INDEX IF NOT EXISTS counters_exp ON counters (exp)");
  }

  /**
   * Records `key` until `expiresAtMs` unless a live record exists: Redis's
   * `SET key 1 NX PXAT exp` as one upsert that writes nothing when the
   * existing row has not expired. True when this call recorded it.
   */
  async claim(key: string, expiresAtMs: number): Promise<boolean> {
    checkKey(key);
    const exp = checkTime(expiresAtMs);
    const now = Date.now();
    const written = this.sql.exec(
      `INSERT INTO claims (key, exp) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET exp = excluded.exp WHERE claims.exp <= ?`,
      key,
      exp,
      now,
    ).rowsWritten;
    if (written === 0) return false;
    await this.scheduleSweep(exp, now);
    return true;
  }

  /** True when `key` is recorded and not expired (the revocation denylist asks this). */
  async has(key: string): Promise<boolean> {
    checkKey(key);
    return (
      this.sql.exec("SELECT 1 FROM claims WHERE key = ? AND exp > ?", key, Date.now()).toArray()
        .length > 0
    );
  }

  /**
   * A fixed-window counter for rate limits: Redis's `INCR key` plus
   * `PEXPIRE key window NX` in one statement. The first call of a window
   * (or the first after it ended) starts a new window at 1; every call
   * returns the count including itself and when the window ends.
   */
  async incr(key: string, windowMs: number): Promise<CounterValue> {
    checkKey(key);
    if (!Number.isInteger(windowMs) || windowMs < 1 || windowMs > MAX_WINDOW_MS) {
      throw new RangeError(`windowMs must be an integer from 1 to ${MAX_WINDOW_MS}`);
    }
    const now = Date.now();
    const row = this.sql
      .exec<{ count: number; exp: number }>(
        `INSERT INTO counters (key, count, exp) VALUES (?, 1, ?)
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN counters.exp <= ? THEN 1 ELSE counters.count + 1 END,
           exp = CASE WHEN counters.exp <= ? THEN excluded.exp ELSE counters.exp END
         RETURNING count, exp`,
        key,
        now + windowMs,
        now,
        now,
      )
      .one();
    await this.scheduleSweep(row.exp, now);
    return { count: row.count, resetAtMs: row.exp };
  }

  /** Answers when the object and its storage answer. */
  async ping(): Promise<void> {
    this.sql.exec("SELECT 1").one();
  }

  /** Rows stored, expired or not: what a refused exchange must leave unchanged. */
  async size(): Promise<number> {
    return this.sql
      .exec<{ n: number }>(
        "SELECT (SELECT COUNT(*) FROM claims) + (SELECT COUNT(*) FROM counters) AS n",
      )
      .one().n;
  }

  /** The sweep: delete what has expired, then wake again for the next row to expire. */
  async alarm(): Promise<void> {
    const now = Date.now();
    this.sql.exec("DELETE FROM claims WHERE exp <= ?", now);
    this.sql.exec("DELETE FROM counters WHERE exp <= ?", now);
    const next = this.sql
      .exec<{ next: number | null }>(
        "SELECT MIN(exp) AS next FROM (SELECT MIN(exp) AS exp FROM claims UNION ALL SELECT MIN(exp) FROM counters)",
      )
      .one().next;
    if (next !== null) await this.ctx.storage.setAlarm(Math.max(next, now + this.sweepIntervalMs));
  }

  /** One alarm per object: set it when none is pending; the sweep re-arms itself. */
  private async scheduleSweep(exp: number, now: number): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) !== null) return;
    await this.ctx.storage.setAlarm(Math.max(exp, now + this.sweepIntervalMs));
  }
}

function checkKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new TypeError(`key must be a string of 1 to ${MAX_KEY_LENGTH} characters`);
  }
}

function checkTime(ms: unknown): number {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    throw new TypeError("expiresAtMs must be a finite epoch time in milliseconds");
  }
  return Math.ceil(ms);
}
