import type { FetchFn } from "../../src/issuers/fetch.js";
import type { KeySetTiming } from "../../src/issuers/key-set.js";
import { type RunningServer, startServer } from "../../src/server.js";
import { memoryAudit } from "../../src/telemetry/audit.js";
import { memoryLogger } from "../../src/telemetry/logger.js";
import { type ClaimOverrides, demoReleaseMatch, githubClaims, gitlabClaims } from "./claims.js";
import { startIssuer, type TestIssuer } from "./issuer.js";
import { type RedisProcess, startRedis } from "./redis.js";

export const NPM_AUDIENCE = "npm:registry.test";
export const NPM_TOKEN_AUDIENCE = "https://registry.test";
export const PYPI_AUDIENCE = "pypi:pypi.test";
export const PYPI_TOKEN_AUDIENCE = "https://pypi.test";
export const TRUSTPUB_ISSUER = "https://sts.test.example";

/** A clock that follows real time plus an offset the test can move. */
export interface ShiftableClock {
  now(): number;
  offsetMs: number;
}

export function shiftableClock(): ShiftableClock {
  const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };
  return clock;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

/** A response read whole: its text, and its body as JSON when it is JSON (else `{}`). */
export async function answerOf(res: Response): Promise<HttpAnswer> {
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    body = {};
  }
  return { status: res.status, headers: res.headers, body, text };
}

export interface Harness {
  readonly url: string;
  readonly github: TestIssuer;
  readonly gitlab: TestIssuer;
  readonly redis: RedisProcess | undefined;
  readonly server: RunningServer;
  readonly clock: ShiftableClock;
  readonly audit: ReturnType<typeof memoryAudit>;
  readonly logs: ReturnType<typeof memoryLogger>;
  readonly config: Record<string, unknown>;
  /** A GitHub Actions token the default publisher trusts, with `overrides` applied. */
  githubToken(overrides?: ClaimOverrides): Promise<string>;
  gitlabToken(overrides?: ClaimOverrides): Promise<string>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<HttpAnswer>;
  exchange(token: string, extra?: Record<string, unknown>): Promise<HttpAnswer>;
  /** Any request to trustpub, answered with its parsed JSON body (or {}). */
  request(path: string, init?: RequestInit): Promise<HttpAnswer>;
  /** Keys in Redis (or entries of the memory store): what a refusal must leave unchanged. */
  storedKeys(): Promise<number>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Spawn a real redis-server for the replay store (default true). */
  redis?: boolean;
  /** Edit the config before trustpub loads it. */
  configure?: (
    config: Record<string, unknown>,
    ctx: { github: TestIssuer; gitlab: TestIssuer },
  ) => void;
  keyTiming?: KeySetTiming;
  /** Wraps trustpub's outbound fetch (to count or fail requests). */
  fetch?: FetchFn;
  githubAlg?: "RS256" | "ES256";
  /** The environment trustpub sees (default {}). */
  env?: Record<string, string>;
  /** Where files named in the config resolve (default the working directory). */
  configDir?: string;
}

/** The default test config: a GitHub and a GitLab issuer, npm and PyPI registries, one publisher each. */
export function baseConfig(
  github: TestIssuer,
  gitlab: TestIssuer,
  redis?: RedisProcess,
): Record<string, unknown> {
  return {
    issuer: TRUSTPUB_ISSUER,
    replay: redis ? { redis: redis.url, command_timeout: "500ms" } : {},
    shutdown: { delay: "0s", drain_timeout: "2s" },
    // High enough that only the rate-limit tests, which set their own, ever meet them.
    rate_limits: { per_client: "100000/s", per_issuer: "100000/s", per_publisher: "100000/s" },
    ci_issuers: {
      github: { url: github.url, provider: "github", allow_http: true },
      gitlab: { url: gitlab.url, provider: "gitlab", allow_http: true },
    },
    registries: {
      "npm-internal": { flavor: "npm", audience: NPM_AUDIENCE, token_audience: NPM_TOKEN_AUDIENCE },
      "pypi-internal": {
        flavor: "pypi",
        audience: PYPI_AUDIENCE,
        token_audience: PYPI_TOKEN_AUDIENCE,
      },
    },
    publishers: [
      {
        id: "acme-demo-release",
        registry: "npm-internal",
        ci_issuer: "github",
        match: demoReleaseMatch(),
        packages: ["@acme/demo", "@acme/demo-*"],
        permissions: ["publish"],
      },
      {
        id: "acme-demo-gitlab",
        registry: "pypi-internal",
        ci_issuer: "gitlab",
        match: {
          project_path: "acme/demo",
          project_id: "4242",
          ci_config: ".gitlab-ci.yml",
          environment: "release",
          ref_type: "tag",
        },
        packages: ["acme-demo"],
        permissions: ["publish"],
      },
    ],
  };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const github = await startIssuer({ alg: options.githubAlg ?? "RS256" });
  const gitlab = await startIssuer({ alg: "RS256", path: "/gitlab" });
  const redis = options.redis === false ? undefined : await startRedis();
  const config = baseConfig(github, gitlab, redis);
  options.configure?.(config, { github, gitlab });
  const clock = shiftableClock();
  const audit = memoryAudit();
  const logs = memoryLogger();
  const server = await startServer({
    config,
    env: options.env ?? {},
    configDir: options.configDir,
    port: 0,
    host: "127.0.0.1",
    clock,
    audit,
    logger: logs,
    keyTiming: options.keyTiming,
    fetch: options.fetch,
  });

  const request = async (path: string, init: RequestInit): Promise<HttpAnswer> => {
    return answerOf(await fetch(`${server.url}${path}`, init));
  };

  const memoryStore = server.services.replay as unknown as { size?: () => number };
  return {
    url: server.url,
    github,
    gitlab,
    redis,
    server,
    clock,
    audit,
    logs,
    config,
    githubToken: (overrides) => github.sign(githubClaims(github.url, NPM_AUDIENCE, overrides)),
    gitlabToken: (overrides) => gitlab.sign(gitlabClaims(gitlab.url, PYPI_AUDIENCE, overrides)),
    post: (path, body, headers = {}) =>
      request(path, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    request: (path, init = {}) => request(path, init),
    exchange: (token, extra = {}) =>
      request("/v1/exchange", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token, ...extra }),
      }),
    storedKeys: async () => (redis ? storedRedisKeys(redis) : (memoryStore.size?.() ?? 0)),
    async close() {
      await server.shutdown();
      await Promise.all([github.stop(), gitlab.stop(), redis?.close()]);
    },
  };
}

/** Keys in Redis other than rate-limit counters (`trustpub:rl:`), which every request may write. */
async function storedRedisKeys(redis: RedisProcess): Promise<number> {
  let count = 0;
  let cursor = "0";
  do {
    const [next, keys] = await redis.client().scan(cursor, "COUNT", 1000);
    cursor = next;
    count += keys.filter((key) => !key.startsWith("trustpub:rl:")).length;
  } while (cursor !== "0");
  return count;
}
