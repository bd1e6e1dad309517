import type { JWK } from "jose";
import { parseDocument } from "yaml";
import { usableKeys } from "../issuers/usable-keys.js";
import type { CompiledPublisher } from "../policy/publisher.js";
import { privateJwksSchema } from "../tokens/keys.js";
import { ConfigError, zodProblems } from "./problems.js";
import { configSchema, type ParsedConfig } from "./schema.js";
import { compilePublishers, crossCheck } from "./validate.js";

/** Reads files named by the config (keys, secrets). The Node entry uses fs; an edge entry its bundle. */
export interface FileSource {
  readText(path: string): Promise<string>;
}

/** Environment overrides of SPEC section 2 that change the config itself. */
export interface ConfigEnv {
  readonly REDIS_URL?: string | undefined;
  readonly TRUSTPUB_SIGNING_KEYS?: string | undefined;
}

export interface LoadedConfig {
  readonly config: ParsedConfig;
  /** Static verification keys per ci_issuer id (`jwks` or `jwks_file`). */
  readonly issuerJwks: Readonly<Record<string, readonly JWK[]>>;
  /** The private JWKS from `signing.keys_file`, checked; undefined means an ephemeral key. */
  readonly signingJwks: ReturnType<typeof privateJwksSchema.parse> | undefined;
  /** Introspection secrets per registry id. */
  readonly introspectionSecrets: Readonly<Record<string, readonly string[]>>;
  /** The audit webhook's bearer token, from `audit.webhook_token_file`. */
  readonly auditWebhookToken?: string | undefined;
  readonly publishers: readonly CompiledPublisher[];
  readonly warnings: readonly string[];
}

/** YAML or JSON text into a plain value; duplicate keys are an error, as in tokens. */
export function parseConfigText(text: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `(file): ${e.message.split("\n")[0]}`));
  }
  try {
    // Resolving aliases can still fail: an undefined anchor, or an alias bomb past the alias cap.
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError([`(file): ${(err as Error).message.split("\n")[0]}`]);
  }
}

/**
 * Validates the whole config at once and loads the files it names. Every
 * problem is collected with its path; any problem means no config at all.
 */
export async function loadConfig(
  raw: unknown,
  env: ConfigEnv,
  files: FileSource,
): Promise<LoadedConfig> {
  const withEnv = applyEnv(raw, env);
  const parsed = configSchema.safeParse(withEnv);
  if (!parsed.success) throw new ConfigError(zodProblems(parsed.error));
  const config = parsed.data;

  const problems = crossCheck(config);
  const {
    publishers,
    problems: publisherProblems,
    warnings,
  } = compilePublishers(config, config.publishers);
  problems.push(...publisherProblems);

  const issuerJwks: Record<string, JWK[]> = {};
  for (const [id, issuer] of Object.entries(config.ci_issuers)) {
    const path = `ci_issuers.${id}`;
    let document: unknown = issuer.jwks;
    let where = `${path}.jwks`;
    if (issuer.jwks_file) {
      where = `${path}.jwks_file`;
      document = await readJson(files, issuer.jwks_file, where, problems);
      if (document === undefined) continue;
    }
    if (document === undefined) continue;
    const keys = usableKeys(document);
    if (!keys || keys.length === 0) {
      problems.push(
        `${where}: holds no usable verification key (RSA of 2048 bits or more, EC or OKP, use "sig")`,
      );
      continue;
    }
    issuerJwks[id] = keys;
  }

  let signingJwks: LoadedConfig["signingJwks"];
  if (config.signing.keys_file) {
    const document = await readJson(files, config.signing.keys_file, "signing.keys_file", problems);
    if (document !== undefined) {
      const checked = privateJwksSchema.safeParse(document);
      if (checked.success) signingJwks = checked.data;
      else problems.push(...zodProblems(checked.error).map((p) => `signing.keys_file: ${p}`));
    }
  }

  const introspectionSecrets: Record<string, string[]> = {};
  for (const [id, registry] of Object.entries(config.registries)) {
    if (!registry.introspection_secrets_file) continue;
    const path = `registries.${id}.introspection_secrets_file`;
    try {
      const secrets = (await files.readText(registry.introspection_secrets_file))
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith("#"));
      if (secrets.some((s) => s.length < 32))
        problems.push(`${path}: every secret must be at least 32 characters`);
      else if (secrets.length === 0) problems.push(`${path}: holds no secret`);
      else introspectionSecrets[id] = secrets;
    } catch (err) {
      problems.push(
        `${path}: cannot read ${registry.introspection_secrets_file} (${(err as Error).message})`,
      );
    }
  }

  problems.push(...sharedSecrets(introspectionSecrets));
  let auditWebhookToken: string | undefined;
  if (config.audit.webhook_token_file) {
    const path = "audit.webhook_token_file";
    if (!config.audit.webhook) problems.push(`${path}: set audit.webhook too`);
    try {
      auditWebhookToken = (await files.readText(config.audit.webhook_token_file)).trim();
      if (!/^[\x21-\x7e]+$/.test(auditWebhookToken))
        problems.push(`${path}: must hold one token of printable ASCII`);
    } catch (err) {
      problems.push(
        `${path}: cannot read ${config.audit.webhook_token_file} (${(err as Error).message})`,
      );
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    auditWebhookToken,
    config: deepFreeze(config),
    issuerJwks: deepFreeze(issuerJwks),
    signingJwks,
    introspectionSecrets: deepFreeze(introspectionSecrets),
    publishers: Object.freeze(publishers),
    warnings: Object.freeze(warnings),
  });
}

/** An introspection secret names its registry, so no two registries may share one. */
function sharedSecrets(secrets: Record<string, string[]>): string[] {
  const owner = new Map<string, string>();
  const problems: string[] = [];
  for (const [id, list] of Object.entries(secrets)) {
    for (const secret of list) {
      const other = owner.get(secret);
      if (other !== undefined && other !== id) {
        problems.push(
          `registries.${id}.introspection_secrets_file: shares a secret with registries.${other}; each registry needs its own`,
        );
      }
      owner.set(secret, id);
    }
  }
  return problems;
}

function applyEnv(raw: unknown, env: ConfigEnv): unknown {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  if (env.REDIS_URL) out.replay = { ...asRecord(out.replay), redis: env.REDIS_URL };
  if (env.TRUSTPUB_SIGNING_KEYS)
    out.signing = { ...asRecord(out.signing), keys_file: env.TRUSTPUB_SIGNING_KEYS };
  return out;
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : {};
}

async function readJson(
  files: FileSource,
  file: string,
  path: string,
  problems: string[],
): Promise<unknown> {
  let text: string;
  try {
    text = await files.readText(file);
  } catch (err) {
    problems.push(`${path}: cannot read ${file} (${(err as Error).message})`);
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    problems.push(`${path}: ${file} is not JSON`);
    return undefined;
  }
}

function deepFreeze<T>(value: T, seen = new WeakSet<object>()): T {
  if (value === null || typeof value !== "object" || seen.has(value as object)) return value;
  seen.add(value as object);
  for (const key of Object.keys(value as object))
    deepFreeze((value as Record<string, unknown>)[key], seen);
  return Object.isFrozen(value) ? value : Object.freeze(value);
}
