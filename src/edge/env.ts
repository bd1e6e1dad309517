import {
  type ConfigEnv,
  type FileSource,
  type LoadedConfig,
  loadConfig,
  parseConfigText,
} from "../config/load.js";
import { ConfigError } from "../config/problems.js";
import {
  DEFAULT_SHARDS,
  MAX_SHARDS,
  type ReplayShardNamespace,
} from "../replay/durable-object-store.js";

/**
 * The bindings the Workers entry reads (wrangler.toml `[vars]`, secrets and
 * the Durable Object binding). Files the config names are bindings too.
 */
export interface WorkerEnv {
  /** The config: a JSON object var, or JSON or YAML text. */
  readonly TRUSTPUB_CONFIG?: unknown;
  /** Secret: the private JWKS of trustpub's signing keys (SPEC section 6). */
  readonly TRUSTPUB_SIGNING_KEYS?: unknown;
  /** The Durable Object namespace of `ReplayShard`. */
  readonly TRUSTPUB_REPLAY?: ReplayShardNamespace;
  /** How many objects claims are spread over (default 16). Never change it on a live deployment. */
  readonly TRUSTPUB_REPLAY_SHARDS?: unknown;
  readonly LOG_LEVEL?: unknown;
  readonly [binding: string]: unknown;
}

/** What a custom entry can bundle instead of using bindings. */
export interface WorkerConfigSource {
  /** The config value (or its JSON/YAML text), e.g. a bundled file; else `TRUSTPUB_CONFIG`. */
  readonly config?: unknown;
  /** Bundled file contents by the path the config names; looked up before bindings. */
  readonly files?: Readonly<Record<string, string>>;
}

export interface WorkerSetup {
  readonly loaded: LoadedConfig;
  readonly replay: ReplayShardNamespace;
  readonly shards: number;
}

/**
 * Files named in the config (`signing.keys_file`, `jwks_file`,
 * `introspection_secrets_file`) are read from bundled content, else from the
 * Worker binding of that name: a secret or text var holds the text, a JSON
 * var its value.
 */
export function bindingFileSource(
  env: WorkerEnv,
  bundled: Readonly<Record<string, string>> = {},
): FileSource {
  return {
    async readText(path) {
      if (Object.hasOwn(bundled, path)) return bundled[path]!;
      const value = Object.hasOwn(env, path) ? env[path] : undefined;
      if (typeof value === "string") return value;
      if (value !== null && typeof value === "object" && !("fetch" in value)) {
        return JSON.stringify(value);
      }
      throw new Error(`no bundled file and no text or JSON binding named ${path}`);
    },
  };
}

/**
 * Loads and checks the config of a Worker. On top of the usual checks: no
 * Redis (claims go to the Durable Object binding), and signing keys are
 * required: an ephemeral key would differ in every isolate, so a token
 * issued by one would not verify against the JWKS another serves.
 */
export async function loadWorkerConfig(
  env: WorkerEnv,
  source: WorkerConfigSource = {},
): Promise<WorkerSetup> {
  const raw = source.config ?? env.TRUSTPUB_CONFIG;
  if (raw === undefined || raw === null || raw === "") {
    throw new ConfigError([
      "TRUSTPUB_CONFIG: not set (a JSON var, or JSON or YAML text, holding the config)",
    ]);
  }
  const configEnv: ConfigEnv = {
    TRUSTPUB_SIGNING_KEYS:
      env.TRUSTPUB_SIGNING_KEYS !== undefined ? "TRUSTPUB_SIGNING_KEYS" : undefined,
  };
  const loaded = await loadConfig(
    typeof raw === "string" ? parseConfigText(raw) : raw,
    configEnv,
    bindingFileSource(env, source.files),
  );
  const problems: string[] = [];
  if (loaded.config.replay.redis !== undefined) {
    problems.push(
      "replay.redis: not available on Workers; claims go to the TRUSTPUB_REPLAY Durable Object binding",
    );
  }
  if (loaded.signingJwks === undefined) {
    problems.push(
      "signing.keys_file: required on Workers (set the TRUSTPUB_SIGNING_KEYS secret): an ephemeral key would differ in every isolate",
    );
  }
  const replay = env.TRUSTPUB_REPLAY;
  if (
    replay === undefined ||
    typeof replay.idFromName !== "function" ||
    typeof replay.get !== "function"
  ) {
    problems.push("TRUSTPUB_REPLAY: no Durable Object binding of the ReplayShard class");
  }
  const shards = parseShards(env.TRUSTPUB_REPLAY_SHARDS);
  if (shards === undefined) {
    problems.push(`TRUSTPUB_REPLAY_SHARDS: expected an integer from 1 to ${MAX_SHARDS}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { loaded, replay: replay!, shards: shards! };
}

function parseShards(value: unknown): number | undefined {
  if (value === undefined || value === "") return DEFAULT_SHARDS;
  const n = typeof value === "number" ? value : Number(String(value).trim());
  return Number.isInteger(n) && n >= 1 && n <= MAX_SHARDS ? n : undefined;
}
