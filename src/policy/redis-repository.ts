import { TrustpubError } from "../errors.js";
import type { RedisClient, StoreErrorObserver } from "../replay/redis.js";
import type { PublisherRepository } from "./repository.js";

/**
 * The admin API's publishers in Redis: a hash of id -> JSON and a version
 * counter, written together in one MULTI. Both keys carry the same hash tag
 * (`{publishers}`) so they live in one slot and the transaction also works
 * on Redis Cluster.
 */
export function redisPublisherRepository(
  client: RedisClient,
  prefix: string,
  observer?: StoreErrorObserver,
): PublisherRepository {
  const hash = `${prefix}{publishers}:specs`;
  const counter = `${prefix}{publishers}:version`;

  const guard = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (cause) {
      observer?.storeError(operation);
      throw new TrustpubError("unavailable", "the publisher store is unavailable", {
        cause,
        retryAfter: 1,
      });
    }
  };

  /** Results of a MULTI; any failed command fails the whole call. */
  const results = (replies: [Error | null, unknown][] | null): unknown[] => {
    if (!replies) throw new Error("transaction aborted");
    return replies.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
  };

  return {
    kind: "redis",
    version: () =>
      guard("publishers_version", async () => Number((await client.get(counter)) ?? 0)),
    load: () =>
      guard("publishers_load", async () => {
        const [version, records] = results(await client.multi().get(counter).hgetall(hash).exec());
        return {
          version: Number(version ?? 0),
          records: (records ?? {}) as Record<string, string>,
        };
      }),
    put: (id, json) =>
      guard("publishers_put", async () => {
        const [created] = results(await client.multi().hset(hash, id, json).incr(counter).exec());
        return Number(created) === 1;
      }),
    remove: (id) =>
      guard("publishers_remove", async () => {
        const [removed] = results(await client.multi().hdel(hash, id).incr(counter).exec());
        return Number(removed) === 1;
      }),
  };
}
