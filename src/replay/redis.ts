import type { Cluster, Redis } from "ioredis";
import { TrustpubError } from "../errors.js";
import type { ReplayStore } from "./store.js";

export type RedisClient = Redis | Cluster;

/** Observes store failures, for metrics. */
export interface StoreErrorObserver {
  storeError(operation: string): void;
}

/**
 * The replay store on Redis (single node, Sentinel or Cluster). The claim is
 * one `SET key 1 NX PXAT exp`: atomic on the server, so of N concurrent
 * exchanges of one token across any number of replicas exactly one sees OK.
 * The client is built to fail fast (see redis-client.ts): a stopped Redis
 * errors at once, a paused one at the command timeout.
 */
export function redisReplayStore(client: RedisClient, observer?: StoreErrorObserver): ReplayStore {
  const guard = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (cause) {
      observer?.storeError(operation);
      throw new TrustpubError("unavailable", "the replay store is unavailable", {
        cause,
        retryAfter: 1,
      });
    }
  };
  return {
    kind: "redis",
    claim: (key, expiresAtMs) =>
      guard(
        "claim",
        async () => (await client.set(key, "1", "PXAT", Math.ceil(expiresAtMs), "NX")) === "OK",
      ),
    has: (key) => guard("has", async () => (await client.exists(key)) === 1),
    ping: () =>
      guard("ping", async () => {
        if ("nodes" in client && typeof client.nodes === "function" && "slots" in client) {
          await Promise.all((client as Cluster).nodes("master").map((node) => node.ping()));
        } else {
          await (client as Redis).ping();
        }
      }),
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
