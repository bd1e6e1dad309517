import { describe, expect, it } from "vitest";
import {
  durableObjectReplayStore,
  type ReplayShardNamespace,
  shardName,
  shardOf,
} from "../../src/replay/durable-object-store.js";
import { jtiKey } from "../../src/replay/store.js";

describe("durable object store sharding", () => {
  it("puts a key on the same shard every time, and spreads keys evenly", async () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 4_000; i++) {
      const key = await jtiKey("trustpub:", "https://token.actions.githubusercontent.com", `${i}`);
      const shard = await shardOf(key, 16);
      expect(await shardOf(key, 16)).toBe(shard);
      counts[shard]!++;
    }
    // 250 expected per shard; a sound hash stays well inside these bounds.
    for (const n of counts) {
      expect(n).toBeGreaterThan(150);
      expect(n).toBeLessThan(350);
    }
    expect(shardName(3)).toBe("replay-3");
  });

  it("refuses a shard count outside 1..1024", () => {
    const ns = {} as ReplayShardNamespace;
    for (const shards of [0, 1025, 2.5, Number.NaN]) {
      expect(() => durableObjectReplayStore(ns, { shards, timeoutMs: 500 })).toThrow(RangeError);
    }
  });
});
