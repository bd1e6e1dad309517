import { z } from "zod";
import { parseDuration } from "../lib/duration.js";
import { matcherSchema } from "../policy/matcher.js";
import { FLAVORS, PERMISSIONS } from "../policy/packages.js";
import { PROVIDER_NAMES } from "../providers/index.js";

/** A duration such as `30s`, `15m` or `500ms`, turned into milliseconds, with an upper bound. */
function duration(fallback: string, maxMs?: number, maxText?: string) {
  return z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({
          code: "custom",
          message: "expected a duration such as 500ms, 30s, 15m or 1h",
        });
        return z.NEVER;
      }
      if (maxMs !== undefined && ms > maxMs) {
        ctx.addIssue({ code: "custom", message: `must be at most ${maxText}` });
        return z.NEVER;
      }
      return ms;
    });
}

/** `100/s`, `600/m`, `10/h`. */
const rate = z.string().transform((value, ctx) => {
  const match = /^(\d+)\/(s|m|h)$/.exec(value.trim());
  if (!match || Number(match[1]) < 1) {
    ctx.addIssue({ code: "custom", message: "expected a rate such as 100/s, 600/m or 10/h" });
    return z.NEVER;
  }
  const windowMs = { s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "s" | "m" | "h"];
  return { limit: Number(match[1]), windowMs };
});

const httpUrl = z.url({ protocol: /^https?$/, error: "expected an http(s) URL" });
const redisUrl = z.string().regex(/^rediss?:\/\//, "expected a redis:// or rediss:// URL");

export const ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "EdDSA",
] as const;
export const SIGNING_ALGORITHMS = ["ES256", "EdDSA", "RS256"] as const;

const jwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });

const ciIssuerSchema = z
  .strictObject({
    url: z.string().min(1).max(512),
    provider: z.enum(PROVIDER_NAMES),
    jwks_uri: httpUrl.optional(),
    jwks: jwksSchema.optional(),
    jwks_file: z.string().min(1).optional(),
    algorithms: z.array(z.enum(ALGORITHMS)).min(1).default(["RS256"]),
    allow_http: z.boolean().default(false),
    require_jti: z.boolean().default(true),
    allow_events: z.array(z.string().min(1)).default([]),
    /** Refuse tokens whose exp - iat exceeds this; 0s (the default) leaves it to max_token_age. */
    max_lifetime: duration("0s", 366 * 86_400_000, "366d"),
  })
  .superRefine((issuer, ctx) => {
    const sources = [issuer.jwks_uri, issuer.jwks, issuer.jwks_file].filter((s) => s !== undefined);
    if (sources.length > 1) {
      ctx.addIssue({ code: "custom", message: "give at most one of jwks_uri, jwks and jwks_file" });
    }
  });

const registrySchema = z.strictObject({
  flavor: z.enum(FLAVORS),
  audience: z.string().min(1).max(512),
  token_audience: z.string().min(1).max(512),
  mount: z
    .string()
    .regex(/^\/([A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*)?$/, "expected a path such as / or /r/npm")
    .optional(),
  token_ttl: duration("15m", 3_600_000, "1h").optional(),
  introspection_secrets_file: z.string().min(1).optional(),
});

export const publisherSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "expected letters, digits, '.', '_' or '-'"),
  registry: z.string().min(1),
  ci_issuer: z.string().min(1),
  match: z.record(z.string().min(1), matcherSchema).refine((m) => Object.keys(m).length > 0, {
    message: "a publisher must match at least one claim",
  }),
  packages: z.array(z.string().min(1).max(214)).min(1),
  permissions: z.array(z.enum(PERMISSIONS)).min(1).default(["publish"]),
});

export type PublisherSpec = z.infer<typeof publisherSchema>;

const redisTopology = z.union([
  redisUrl,
  z.strictObject({ url: redisUrl }),
  z.strictObject({
    sentinels: z.array(redisUrl).min(1),
    name: z.string().min(1),
    password: z.string().optional(),
    db: z.number().int().min(0).optional(),
  }),
  z.strictObject({ cluster: z.array(redisUrl).min(1), password: z.string().optional() }),
]);

export const configSchema = z.strictObject({
  issuer: httpUrl,
  signing: z
    .strictObject({
      keys_file: z.string().min(1).optional(),
      alg: z.enum(SIGNING_ALGORITHMS).default("ES256"),
    })
    .prefault({}),
  replay: z
    .strictObject({
      redis: redisTopology.optional(),
      command_timeout: duration("500ms", 10_000, "10s"),
      key_prefix: z.string().max(64).default("trustpub:"),
    })
    .prefault({}),
  rate_limits: z
    .strictObject({
      enabled: z.boolean().default(true),
      per_client: rate.prefault("100/s"),
      per_issuer: rate.prefault("1000/s"),
      per_publisher: rate.prefault("10/s"),
      trusted_proxies: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  admin: z
    .strictObject({
      token_sha256: z
        .array(z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lower-case hex digits"))
        .default([]),
      /** How often each replica checks the admin publishers for changes (at most 5 s). */
      poll_interval: duration("2s", 5_000, "5s"),
    })
    .prefault({}),
  audit: z
    .strictObject({
      webhook: httpUrl.optional(),
      /** A file holding a bearer token for the webhook (`Authorization: Bearer`). */
      webhook_token_file: z.string().min(1).optional(),
      /** Events waiting for the webhook beyond this are dropped and counted. */
      queue_size: z.number().int().min(1).max(1_000_000).default(10_000),
      timeout: duration("5s", 60_000, "1m"),
      max_attempts: z.number().int().min(1).max(20).default(6),
      /** First retry delay; doubles per attempt, at most 30 s. */
      retry_backoff: duration("500ms", 30_000, "30s"),
    })
    .prefault({}),
  limits: z
    .strictObject({ body_bytes: z.number().int().min(1024).max(1_048_576).default(65_536) })
    .prefault({}),
  defaults: z
    .strictObject({
      clock_skew: duration("30s", 300_000, "5m"),
      max_token_age: duration("15m", 86_400_000, "24h"),
      token_ttl: duration("15m", 3_600_000, "1h"),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      delay: duration("2s", 60_000, "1m"),
      drain_timeout: duration("10s", 300_000, "5m"),
    })
    .prefault({}),
  dev: z.strictObject({ demo_issuer: z.boolean().default(false) }).prefault({}),
  ci_issuers: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/), ciIssuerSchema),
  registries: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/), registrySchema),
  publishers: z.array(publisherSchema).default([]),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type CiIssuerConfig = ParsedConfig["ci_issuers"][string];
export type RegistryConfig = ParsedConfig["registries"][string];
export type RedisTopology = z.output<typeof redisTopology>;
