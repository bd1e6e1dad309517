import type { CompiledPublisher } from "./publisher.js";

/**
 * Where publishers come from. The file store is read-only; the admin API
 * adds a store backed by Redis. Lookups are by (registry, ci_issuer) since
 * every exchange knows both before it looks at a publisher.
 */
export interface PublisherStore {
  candidates(registry: string, ciIssuer: string): Promise<readonly CompiledPublisher[]>;
  all(): Promise<readonly CompiledPublisher[]>;
}

/** Publishers fixed at load, indexed once. */
export function staticPublisherStore(publishers: readonly CompiledPublisher[]): PublisherStore {
  const index = new Map<string, CompiledPublisher[]>();
  for (const p of publishers) {
    const key = `${p.registry}\u0000${p.ciIssuer}`;
    const list = index.get(key) ?? [];
    list.push(p);
    index.set(key, list);
  }
  const frozen = Object.freeze([...publishers]);
  return {
    candidates: async (registry, ciIssuer) => index.get(`${registry}\u0000${ciIssuer}`) ?? [],
    all: async () => frozen,
  };
}
