import { fork } from "node:child_process";
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
  sign,
} from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The bench's CI tokens: distinct GitHub-shaped RS256 tokens, prepared
 * before any load so signing never competes with the servers. Signing RS256
 * costs about 0.7 ms a token here, so the pool is cached on disk with its
 * key and reused for a day (the bench config accepts tokens up to 24 h old,
 * and every run starts on an empty Redis, so a cached token is never a replay).
 */
export interface TokenPool {
  readonly issuerKeyPem: string;
  readonly kid: string;
  readonly tokens: string[];
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function signOne(key: KeyObject, kid: string, claims: Record<string, unknown>): string {
  const input = `${b64({ alg: "RS256", kid, typ: "JWT" })}.${b64(claims)}`;
  return `${input}.${sign("sha256", Buffer.from(input), key).toString("base64url")}`;
}

export function githubBenchClaims(iss: string, aud: string, now: number): Record<string, unknown> {
  return {
    iss,
    aud,
    sub: "repo:acme/demo:environment:release",
    jti: randomUUID(),
    iat: now,
    nbf: now,
    exp: now + 23 * 3600,
    repository: "acme/demo",
    repository_id: "892394032",
    repository_owner: "acme",
    repository_owner_id: "1234567",
    repository_visibility: "private",
    workflow: "Release",
    workflow_ref: "acme/demo/.github/workflows/release.yml@refs/tags/v1.2.3",
    workflow_sha: "5b0f1c2d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c",
    job_workflow_ref: "acme/demo/.github/workflows/release.yml@refs/tags/v1.2.3",
    job_workflow_sha: "5b0f1c2d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c",
    ref: "refs/tags/v1.2.3",
    ref_type: "tag",
    ref_protected: "true",
    sha: "5b0f1c2d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c",
    event_name: "push",
    environment: "release",
    run_id: "9876543210",
    run_number: "42",
    run_attempt: "1",
    actor: "octocat",
    actor_id: "583231",
    runner_environment: "github-hosted",
  };
}

/** In a child process: sign `count` tokens and send them back over IPC. */
if (process.env.BENCH_SIGNER === "1" && process.send) {
  process.once(
    "message",
    (job: { pem: string; kid: string; iss: string; aud: string; count: number }) => {
      const key = createPrivateKey(job.pem);
      const now = Math.floor(Date.now() / 1000);
      const out: string[] = [];
      for (let i = 0; i < job.count; i++)
        out.push(signOne(key, job.kid, githubBenchClaims(job.iss, job.aud, now)));
      process.send!(out, () => process.exit(0));
    },
  );
}

/** Loads the cached pool when it is fresh and large enough, else signs a new one on every core. */
export async function tokenPool(
  cacheDir: string,
  iss: string,
  aud: string,
  size: number,
  log: (m: string) => void,
): Promise<TokenPool> {
  mkdirSync(cacheDir, { recursive: true });
  const file = join(cacheDir, "tokens.json");
  if (existsSync(file)) {
    const cached = JSON.parse(readFileSync(file, "utf8")) as TokenPool & {
      iss: string;
      aud: string;
      createdAt: number;
    };
    const ageHours = (Date.now() - cached.createdAt) / 3_600_000;
    if (cached.iss === iss && cached.aud === aud && cached.tokens.length >= size && ageHours < 20) {
      log(`using ${cached.tokens.length} cached CI tokens (${ageHours.toFixed(1)} h old)`);
      return cached;
    }
  }
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const kid = `bench-${randomUUID().slice(0, 8)}`;
  const workers = Math.max(1, cpus().length);
  log(`signing ${size} distinct RS256 CI tokens in ${workers} processes (cached for later runs)`);
  const started = Date.now();
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, i) => {
      const count = Math.floor(size / workers) + (i < size % workers ? 1 : 0);
      return new Promise<string[]>((resolve, reject) => {
        const child = fork(fileURLToPath(import.meta.url), [], {
          execArgv: ["--import", "tsx"],
          env: { ...process.env, BENCH_SIGNER: "1" },
        });
        child.once("message", (tokens) => resolve(tokens as string[]));
        child.once("error", reject);
        child.send({ pem, kid, iss, aud, count });
      });
    }),
  );
  const pool = { issuerKeyPem: pem, kid, tokens: parts.flat() };
  writeFileSync(file, JSON.stringify({ ...pool, iss, aud, createdAt: Date.now() }));
  log(`signed ${pool.tokens.length} tokens in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return pool;
}

export function publicJwkOf(pool: TokenPool): Record<string, unknown> {
  const jwk = createPublicKey(pool.issuerKeyPem).export({ format: "jwk" });
  return { ...jwk, kid: pool.kid, alg: "RS256", use: "sig" };
}
