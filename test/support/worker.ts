import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { DEFAULT_SHARDS, shardName } from "../../src/replay/durable-object-store.js";
import { generatePrivateJwk } from "../../src/tokens/keys.js";
import { answerOf, type HttpAnswer } from "./harness.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const FAULTY_SHARDS = join(ROOT, "test/support/faulty-shards.js");

/** The compatibility date of deploy/edge/wrangler.toml, so tests run what the example deploys. */
export async function compatibilityDate(): Promise<string> {
  const toml = await readFile(join(ROOT, "deploy/edge/wrangler.toml"), "utf8");
  const date = /^compatibility_date\s*=\s*"(\d{4}-\d\d-\d\d)"/m.exec(toml)?.[1];
  if (!date) throw new Error("deploy/edge/wrangler.toml has no compatibility_date");
  return date;
}

export interface WorkerBundle {
  readonly path: string;
  readonly bytes: number;
  readonly inputs: readonly string[];
  readonly externals: readonly string[];
  remove(): Promise<void>;
}

/** Bundles src/edge/worker.ts as the build script does, into a temporary folder. */
export async function bundleWorkerForTest(): Promise<WorkerBundle> {
  const dir = await mkdtemp(join(tmpdir(), "trustpub-worker-"));
  // @ts-expect-error: a plain ES module script without type declarations
  const { bundleWorker } = await import("../../scripts/build-worker.mjs");
  const result = await bundleWorker(join(dir, "worker.js"));
  return {
    ...result,
    path: result.outfile,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export type ShardFault = "failing" | "stalled" | "wrong";
const FAULT_CLASS: Record<ShardFault, string> = {
  failing: "FailingShard",
  stalled: "StalledShard",
  wrong: "WrongShard",
};

export interface WorkerOptions {
  readonly bundle: WorkerBundle;
  /** The TRUSTPUB_CONFIG binding (a JSON var). */
  readonly config: unknown;
  /** The TRUSTPUB_SIGNING_KEYS secret; a fresh ES256 key when not given, none when null. */
  readonly signingKeys?: string | null;
  readonly bindings?: Record<string, unknown>;
  /** Bind TRUSTPUB_REPLAY to a failing stand-in instead of the real ReplayShard. */
  readonly fault?: ShardFault;
  readonly shards?: number;
}

export interface WorkerHarness {
  readonly mf: Miniflare;
  /** http://127.0.0.1:PORT of workerd's own listener. */
  readonly url: string;
  readonly shards: number;
  request(path: string, init?: RequestInit): Promise<HttpAnswer>;
  exchange(token: string, extra?: Record<string, unknown>): Promise<HttpAnswer>;
  /** Rows stored across every shard, expired or not. */
  storedKeys(): Promise<number>;
  /** A stub of shard `index` of the real ReplayShard class, for direct RPC calls. */
  shard(index: number): Promise<ShardRpc>;
  /** Console lines of the Worker, as workerd reported them. */
  readonly logs: { level: string; message: string }[];
  /** The audit events the Worker printed, in order. */
  audit(): Record<string, unknown>[];
  close(): Promise<void>;
}

export interface ShardRpc {
  claim(key: string, expiresAtMs: number): Promise<boolean>;
  has(key: string): Promise<boolean>;
  incr(key: string, windowMs: number): Promise<{ count: number; resetAtMs: number }>;
  ping(): Promise<void>;
  size(): Promise<number>;
}

/** Runs the bundled Worker in workerd through Miniflare, listening on 127.0.0.1. */
export async function startWorker(options: WorkerOptions): Promise<WorkerHarness> {
  const date = await compatibilityDate();
  const shards = options.shards ?? DEFAULT_SHARDS;
  const signingKeys =
    options.signingKeys === undefined
      ? JSON.stringify({ keys: [await generatePrivateJwk("ES256")] })
      : options.signingKeys;
  const bundleDir = dirname(options.bundle.path);
  const faultClass = options.fault ? FAULT_CLASS[options.fault] : undefined;
  const logs: { level: string; message: string }[] = [];
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    handleStructuredLogs: ({ level, message }: { level: string; message: string }) => {
      logs.push({ level, message });
    },
    workers: [
      {
        name: "trustpub",
        modules: true,
        modulesRoot: bundleDir,
        scriptPath: options.bundle.path,
        compatibilityDate: date,
        bindings: {
          TRUSTPUB_CONFIG: options.config as never,
          ...(signingKeys === null ? {} : { TRUSTPUB_SIGNING_KEYS: signingKeys }),
          TRUSTPUB_REPLAY_SHARDS: String(shards),
          LOG_LEVEL: "error",
          ...(options.bindings as Record<string, never>),
        },
        durableObjects: {
          TRUSTPUB_REPLAY: faultClass
            ? { className: faultClass, scriptName: "faults" }
            : { className: "ReplayShard", useSQLite: true },
        },
      },
      {
        name: "faults",
        modules: true,
        modulesRoot: dirname(FAULTY_SHARDS),
        scriptPath: FAULTY_SHARDS,
        compatibilityDate: date,
        durableObjects: {
          FAILING: { className: "FailingShard", useSQLite: true },
          STALLED: { className: "StalledShard", useSQLite: true },
          WRONG: { className: "WrongShard", useSQLite: true },
        },
      },
    ],
  });
  const url = String(await mf.ready).replace(/\/$/, "");

  const request = async (path: string, init: RequestInit = {}): Promise<HttpAnswer> => {
    return answerOf(await fetch(`${url}${path}`, init));
  };
  const shard = async (index: number): Promise<ShardRpc> => {
    const ns = await mf.getDurableObjectNamespace("TRUSTPUB_REPLAY", "trustpub");
    return ns.get(ns.idFromName(shardName(index))) as unknown as ShardRpc;
  };

  return {
    mf,
    url,
    shards,
    request,
    exchange: (token, extra = {}) =>
      request("/v1/exchange", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token, ...extra }),
      }),
    async storedKeys() {
      if (faultClass) return 0;
      const sizes = await Promise.all(
        Array.from({ length: shards }, async (_, i) => (await shard(i)).size()),
      );
      return sizes.reduce((a, b) => a + b, 0);
    },
    shard,
    logs,
    audit: () =>
      logs.flatMap(({ message }) => {
        try {
          const value = JSON.parse(message);
          return value?.audit === true ? [value as Record<string, unknown>] : [];
        } catch {
          return [];
        }
      }),
    close: () => mf.dispose(),
  };
}
