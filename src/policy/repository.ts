/**
 * Where the admin API keeps the publishers it manages: one JSON document per
 * publisher id, and a version that changes with every write so replicas can
 * tell cheaply whether to reload. Redis in production (shared by replicas),
 * memory otherwise (one process only).
 */
export interface PublisherRepository {
  readonly kind: string;
  /** The version alone: what replicas poll. */
  version(): Promise<number>;
  /** Every record with the version they belong to, read atomically. */
  load(): Promise<{ version: number; records: Readonly<Record<string, string>> }>;
  /** Writes one record; true when it did not exist before. */
  put(id: string, json: string): Promise<boolean>;
  /** Removes one record; true when it existed. */
  remove(id: string): Promise<boolean>;
}

export function memoryPublisherRepository(): PublisherRepository {
  const records = new Map<string, string>();
  let version = 0;
  return {
    kind: "memory",
    version: async () => version,
    load: async () => ({ version, records: Object.fromEntries(records) }),
    async put(id, json) {
      const created = !records.has(id);
      records.set(id, json);
      version++;
      return created;
    },
    async remove(id) {
      const existed = records.delete(id);
      if (existed) version++;
      return existed;
    },
  };
}
