import { type PublisherSpec, publisherSchema } from "../config/schema.js";
import { parseJsonStrict } from "../lib/json.js";
import type { Logger } from "../telemetry/logger.js";
import type { PublisherRepository } from "./repository.js";

export interface PublisherSnapshot {
  /** The repository version these specs were read at; -1 until the first load. */
  readonly version: number;
  readonly specs: readonly PublisherSpec[];
}

/**
 * This replica's copy of the admin publishers. It polls the repository's
 * version every `pollMs` (at most 5 s, so every replica sees a change
 * within that), reloads when it moved, and keeps the last good copy while
 * the repository does not answer. Lives for the whole process: a config
 * reload keeps it when the Redis connection is unchanged.
 */
export interface SharedPublishers {
  readonly repository: PublisherRepository;
  snapshot(): PublisherSnapshot;
  /** Reads the repository now (single flight); resolves false when it did not answer. */
  refresh(): Promise<boolean>;
  start(): void;
  stop(): void;
}

export function sharedPublishers(
  repository: PublisherRepository,
  options: { readonly logger: Logger; readonly pollMs: number },
): SharedPublishers {
  let snapshot: PublisherSnapshot = { version: -1, specs: [] };
  let inflight: Promise<boolean> | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let failing = false;

  const read = async (): Promise<boolean> => {
    try {
      if (snapshot.version >= 0 && (await repository.version()) === snapshot.version) return true;
      const { version, records } = await repository.load();
      const specs: PublisherSpec[] = [];
      for (const [id, json] of Object.entries(records)) {
        const parsed = parseJsonStrict(json);
        const checked = parsed.ok ? publisherSchema.safeParse(parsed.value) : undefined;
        if (!checked?.success || checked.data.id !== id) {
          options.logger.warn(
            { publisher: id },
            "admin publisher store: skipping an invalid record",
          );
          continue;
        }
        specs.push(checked.data);
      }
      specs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      snapshot = Object.freeze({ version, specs: Object.freeze(specs) });
      if (failing) options.logger.info({ version }, "admin publisher store answers again");
      failing = false;
      return true;
    } catch (err) {
      if (!failing) {
        options.logger.warn(
          { err: (err as Error).message, version: snapshot.version },
          "admin publisher store unavailable; keeping the last copy",
        );
      }
      failing = true;
      return false;
    }
  };

  const shared: SharedPublishers = {
    repository,
    snapshot: () => snapshot,
    refresh() {
      inflight ??= read().finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
    start() {
      if (timer) return;
      timer = setInterval(() => void shared.refresh(), options.pollMs);
      timer.unref?.();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
  return shared;
}
