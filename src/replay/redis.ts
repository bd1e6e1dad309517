import type { Cluster, Redis } from "ioredis";
import { TrustpubError } from "../errors.js";
import type { ReplayStore } from "./store.js";

export type RedisClient = Redis | Cluster;

/** Observes store failures, for metrics. */
export interface StoreErrorObserver {
  storeError(operation: string): void;
}

/** Deletes KEYS[1] only while it holds ARGV[1]: a claim can only ever take back itself. */
const RELEASE_CLAIM =
  'if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0';

/**
 * The replay store on Redis (single node, Sentinel or Cluster). The claim is
 * one `SET key <owner> NX PXAT exp`: atomic on the server, so of N concurrent
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
    async claim(key, expiresAtMs) {
      const owner = crypto.randomUUID();
      try {
        return await guard(
          "claim",
          async () => (await client.set(key, owner, "PXAT", Math.ceil(expiresAtMs), "NX")) === "OK",
        );
      } catch (err) {
        // A SET that timed out (Redis paused or slow) can still run once Redis
        // answers again. No token was issued for it, so take it back, best
        // effort and only while it is still this claim: a retry of the same
        // CI token after a 503 must not be refused as a replay.
        void Promise.resolve()
          .then(() => client.eval(RELEASE_CLAIM, 1, key, owner))
          .catch(() => {});
        throw err;
      }
    },
    has: (key) => guard("has", async () => (await client.exists(key)) === 1),
    ping: () =>
      guard("ping", async () => {
        if ("nodes" in client && typeof client.nodes === "function" && "slots" in client) {
          // Every master answers, and the cluster client itself routes commands
          // (while it reloads its slot map it refuses them, and so would a claim).
          if (client.status !== "ready")
            throw new Error(`redis cluster client is ${client.status}`);
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
