import { TrustpubError } from "../errors.js";
import { sha256Hex } from "../lib/sha256.js";
import type { StoreErrorObserver } from "./redis.js";
import type { ReplayStore } from "./store.js";

/** A fixed-window counter's state after an increment. */
export interface CounterValue {
  /** Calls in the current window, this one included. */
  readonly count: number;
  /** When the window ends (epoch ms). */
  readonly resetAtMs: number;
}

/**
 * What a rate limiter needs from shared state: an atomic counter per key
 * over a fixed window (Redis: `INCR` + `PEXPIRE NX`). Errors are
 * TrustpubError("unavailable"), as for the replay store.
 */
export interface CounterStore {
  incr(key: string, windowMs: number): Promise<CounterValue>;
}

/** The RPC surface of one `ReplayShard` object, as its stub exposes it. */
export interface ReplayShardStub {
  claim(key: string, expiresAtMs: number): Promise<boolean>;
  has(key: string): Promise<boolean>;
  incr(key: string, windowMs: number): Promise<CounterValue>;
  ping(): Promise<void>;
}

/** The Durable Object namespace binding of `ReplayShard` (only what this adapter calls). */
export interface ReplayShardNamespace {
  idFromName(name: string): unknown;
  get(id: never): ReplayShardStub;
}

export interface DurableObjectStoreOptions {
  /** Number of objects keys are spread over. Fixed for a deployment: changing it moves keys. */
  readonly shards: number;
  /** An object that has not answered by then counts as down (`replay.command_timeout`). */
  readonly timeoutMs: number;
  readonly observer?: StoreErrorObserver | undefined;
}

export const DEFAULT_SHARDS = 16;
export const MAX_SHARDS = 1024;

/** The name of shard `index`: what `idFromName` is called with. */
export function shardName(index: number): string {
  return `replay-${index}`;
}

/** The shard of a key: the first 32 bits of its SHA-256, modulo the shard count. */
export async function shardOf(key: string, shards: number): Promise<number> {
  return Number.parseInt((await sha256Hex(key)).slice(0, 8), 16) % shards;
}

/**
 * The replay store (and rate-limit counters) on Cloudflare Durable Objects.
 * Each key lives in one of `shards` SQLite-backed `ReplayShard` objects, so
 * every claim of one key meets in one single-threaded object, and load
 * spreads over many. Any failure of a stub (an exception, an overloaded or
 * reset object, a network error, no answer within the timeout, an answer of
 * the wrong type) is TrustpubError("unavailable"): the exchange answers 503
 * and issues no token.
 */
export function durableObjectReplayStore(
  namespace: ReplayShardNamespace,
  options: DurableObjectStoreOptions,
): ReplayStore & CounterStore {
  const { shards, timeoutMs, observer } = options;
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
    throw new RangeError(`shards must be an integer from 1 to ${MAX_SHARDS}`);
  }
  const stub = (index: number) => namespace.get(namespace.idFromName(shardName(index)) as never);

  const guard = async <T>(
    operation: string,
    run: () => Promise<unknown>,
    valid: (value: unknown) => value is T,
  ): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const value = await Promise.race([run(), timeout]);
      if (!valid(value)) throw new Error(`unexpected answer to ${operation}`);
      return value;
    } catch (cause) {
      observer?.storeError(operation);
      throw new TrustpubError("unavailable", "the replay store is unavailable", {
        cause,
        retryAfter: 1,
      });
    } finally {
      clearTimeout(timer);
    }
  };
  const onShardOf = async (key: string) => stub(await shardOf(key, shards));

  return {
    kind: "durable-object",
    claim: (key, expiresAtMs) =>
      guard("claim", async () => (await onShardOf(key)).claim(key, expiresAtMs), isBoolean),
    has: (key) => guard("has", async () => (await onShardOf(key)).has(key), isBoolean),
    incr: (key, windowMs) =>
      guard("incr", async () => (await onShardOf(key)).incr(key, windowMs), isCounterValue),
    ping: () =>
      guard(
        "ping",
        async () => {
          await Promise.all(Array.from({ length: shards }, (_, i) => stub(i).ping()));
          return true;
        },
        isBoolean,
      ).then(() => {}),
    close: async () => {},
  };
}

function isBoolean(value: unknown): value is boolean {
  return typeof value === "boolean";
}

function isCounterValue(value: unknown): value is CounterValue {
  const v = value as CounterValue | null;
  return (
    typeof v === "object" &&
    v !== null &&
    Number.isInteger(v.count) &&
    v.count > 0 &&
    Number.isFinite(v.resetAtMs)
  );
}
