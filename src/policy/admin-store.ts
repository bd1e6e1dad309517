import { zodProblems } from "../config/problems.js";
import type { ParsedConfig, PublisherSpec } from "../config/schema.js";
import { publisherSchema } from "../config/schema.js";
import { compilePublishers } from "../config/validate.js";
import { TrustpubError } from "../errors.js";
import type { Logger } from "../telemetry/logger.js";
import type { CompiledPublisher } from "./publisher.js";
import type { SharedPublishers } from "./shared-publishers.js";
import { type PublisherStore, staticPublisherStore } from "./store.js";

export type PublisherSource = "file" | "admin";

export interface PublisherEntry {
  readonly publisher: PublisherSpec;
  readonly source: PublisherSource;
}

/** A refused admin change: every problem, each with its path. */
export class InvalidPublisher extends TrustpubError {
  constructor(readonly problems: readonly string[]) {
    super("malformed_request", "the publisher is invalid", { cause: { problems } });
  }
}

/**
 * The publishers one config sees: the file's (read-only) and the admin
 * API's, compiled against this config's registries and issuers. Exchanges
 * read the compiled copy in memory only; the repository is read by the
 * shared poller, so a slow Redis never slows a publisher lookup.
 */
export interface AdminPublisherStore extends PublisherStore {
  list(): Promise<readonly PublisherEntry[]>;
  get(id: string): Promise<PublisherEntry | undefined>;
  /** Validates (schema, references, matchers) and saves; true when created. */
  put(id: string, body: unknown): Promise<{ created: boolean; publisher: PublisherSpec }>;
  /** True when an admin publisher was removed. */
  remove(id: string): Promise<boolean>;
  /** The repository version the compiled copy is at. */
  version(): number;
}

export function adminPublisherStore(
  shared: SharedPublishers,
  config: Pick<ParsedConfig, "registries" | "ci_issuers">,
  fromFile: readonly CompiledPublisher[],
  logger: Logger,
): AdminPublisherStore {
  const fileIds = new Set(fromFile.map((p) => p.id));
  let compiledAt = Number.NaN;
  let admin: readonly CompiledPublisher[] = [];
  let merged: PublisherStore = staticPublisherStore(fromFile);

  /** Recompiles when the shared copy moved; the first use waits for a first load. */
  const current = async (): Promise<PublisherStore> => {
    let snapshot = shared.snapshot();
    if (snapshot.version < 0) {
      await shared.refresh();
      snapshot = shared.snapshot();
      if (snapshot.version < 0)
        throw new TrustpubError("unavailable", "the publisher store is unavailable", {
          retryAfter: 1,
        });
    }
    if (snapshot.version === compiledAt) return merged;
    const visible = snapshot.specs.filter((spec) => {
      if (!fileIds.has(spec.id)) return true;
      logger.warn(
        { publisher: spec.id },
        "admin publisher shadowed by a publisher of the same id in the config file",
      );
      return false;
    });
    const { publishers, problems } = compilePublishers(
      config,
      visible,
      (i) => `admin publisher ${visible[i]!.id}`,
    );
    for (const problem of problems) {
      logger.warn({ problem }, "admin publisher does not fit the config in force; it is ignored");
    }
    admin = publishers;
    merged = staticPublisherStore([...fromFile, ...admin]);
    compiledAt = snapshot.version;
    return merged;
  };

  const entries = async (): Promise<PublisherEntry[]> => {
    await current();
    return [
      ...fromFile.map((p) => ({ publisher: p.spec, source: "file" as const })),
      ...admin.map((p) => ({ publisher: p.spec, source: "admin" as const })),
    ];
  };

  const validate = (id: string, body: unknown): PublisherSpec => {
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new InvalidPublisher(["publisher: expected a JSON object"]);
    }
    const withId = { id, ...(body as Record<string, unknown>) };
    if (withId.id !== id) throw new InvalidPublisher(["publisher.id: differs from the URL's id"]);
    const parsed = publisherSchema.safeParse(withId);
    if (!parsed.success) throw new InvalidPublisher(zodProblems(parsed.error, ["publisher"]));
    const { problems } = compilePublishers(config, [parsed.data], () => "publisher");
    if (problems.length > 0) throw new InvalidPublisher(problems);
    return parsed.data;
  };

  const refuseFileId = (id: string) => {
    if (fileIds.has(id)) {
      throw new TrustpubError(
        "conflict",
        "this publisher is defined in the config file, which the admin API cannot change",
      );
    }
  };

  return {
    candidates: async (registry, ciIssuer) => (await current()).candidates(registry, ciIssuer),
    all: async () => (await current()).all(),
    list: entries,
    get: async (id) => (await entries()).find((e) => e.publisher.id === id),
    async put(id, body) {
      refuseFileId(id);
      const publisher = validate(id, body);
      const created = await shared.repository.put(id, JSON.stringify(publisher));
      await shared.refresh();
      return { created, publisher };
    },
    async remove(id) {
      refuseFileId(id);
      const removed = await shared.repository.remove(id);
      await shared.refresh();
      return removed;
    },
    version: () => shared.snapshot().version,
  };
}
