import { type ChildProcess, execFileSync, fork, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { VERIFIED_CACHE_SIZE } from "../src/tokens/verify-issued.js";
import { demoReleaseMatch } from "../test/support/claims.js";
import { freePort } from "../test/support/ports.js";
import type { LoadResult, LoadSpec } from "./load.js";
import { publicJwkOf, tokenPool } from "./tokens.js";

/** What `npm run bench` and `npm run bench:profile` share: the servers they start and the load they drive. */
export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const cache = join(root, "bench", ".cache");
export const AUD = "npm:registry.bench";
const NODE = process.execPath;
const TSX = ["--import", "tsx"];

export const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

export function benchConfig(issuerUrl: string, redisUrl: string, limits = true) {
  return {
    issuer: "https://sts.bench.example",
    replay: { redis: redisUrl },
    defaults: { max_token_age: "24h" },
    shutdown: { delay: "0s" },
    // On, with limits nobody reaches, so their cost is measured; BENCH_LIMITS=off to compare.
    rate_limits: !limits
      ? { enabled: false }
      : { per_client: "1000000/s", per_issuer: "1000000/s", per_publisher: "1000000/s" },
    ci_issuers: { github: { url: issuerUrl, provider: "github", allow_http: true } },
    registries: {
      npm: { flavor: "npm", audience: AUD, token_audience: "https://registry.bench", mount: "/" },
    },
    publishers: [
      {
        id: "acme-demo-release",
        registry: "npm",
        ci_issuer: "github",
        match: demoReleaseMatch(),
        packages: ["@acme/demo", "@acme/demo-*"],
      },
    ],
  };
}

export async function waitReady(
  url: string,
  path: string,
  child: ChildProcess,
  timeoutMs = 20_000,
): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (child.exitCode !== null)
      throw new Error(`server exited with ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(`${url}${path}`);
      if (res.status < 500 && res.status !== 404) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${url}${path} not ready after ${timeoutMs} ms`);
}

export interface Proc {
  child: ChildProcess;
  url: string;
  startMs: number;
  stop(): Promise<void>;
}

export async function startTrustpub(configFile: string, nodeArgs: string[] = []): Promise<Proc> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(
    NODE,
    [...nodeArgs, join(root, "dist", "cli.js"), "serve", "--config", configFile],
    {
      env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, "/readyz", child);
  return { child, url, startMs: performance.now() - started, stop: () => stopChild(child) };
}

export async function startBaseline(script: string, args: string[]): Promise<Proc> {
  const port = await freePort();
  const started = performance.now();
  const child = fork(join(root, "bench", "baselines", script), [String(port), ...args], {
    execArgv: TSX,
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    startMs: performance.now() - started,
    stop: () => stopChild(child),
  };
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

export function load(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [...TSX, join(root, "bench", "load.ts"), JSON.stringify(spec)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}`));
      else resolve(JSON.parse(out.trim().split("\n").at(-1)!));
    });
  });
}

export function rss(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** CPU a process has used so far (all its threads, user + system), in ms, from /proc. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; the fields after it are plain numbers.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks / TICKS_PER_SECOND) * 1000;
}

/** Exchanges one CI token at trustpub: the issued token forward auth is measured with. */
export async function issueToken(trustpubUrl: string, ciToken: string): Promise<string> {
  const res = await fetch(`${trustpubUrl}/v1/exchange`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: ciToken }),
  });
  if (res.status !== 200) throw new Error(`exchange for the authz token answered ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

/**
 * Forward auth's worst case takes this many distinct issued tokens in turn:
 * three times what trustpub's verified-token memory holds, so none is
 * remembered when it comes round again.
 */
export const DISTINCT_AUTHZ_TOKENS = 3 * VERIFIED_CACHE_SIZE;

/**
 * Exchanges each CI token (32 at a time) and writes the issued tokens to a
 * file, one a line, for forward auth with a new token every request.
 */
export async function issueTokensFile(trustpubUrl: string, ciTokens: readonly string[]) {
  const issued: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < ciTokens.length) issued.push(await issueToken(trustpubUrl, ciTokens[next++]!));
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  const file = join(cache, "issued.txt");
  writeFileSync(file, issued.join("\n"));
  return file;
}

/**
 * `GET /v1/authz` as nginx asks it: an issued token (or the next one from a
 * file, each request), and a publish of the package it covers.
 */
export function authzLoad(
  url: string,
  credential: { readonly token: string } | { readonly tokensFile: string },
  durationSeconds: number,
  connections: number,
): LoadSpec {
  return {
    url,
    method: "GET",
    path: "/v1/authz",
    headers: {
      ...("token" in credential ? { authorization: `Bearer ${credential.token}` } : {}),
      "x-original-method": "PUT",
      "x-original-uri": "/@acme%2fdemo",
    },
    ...("tokensFile" in credential ? { bearerTokensFile: credential.tokensFile } : {}),
    durationSeconds,
    connections,
  };
}

/** The issuer's URL is inside every token, so the pool is tied to one port, kept with the cache. */
export async function startIssuer(aud: string, poolSize: number) {
  mkdirSync(cache, { recursive: true });
  const portFile = join(cache, "issuer-port");
  let port: number;
  try {
    port = Number(readFileSync(portFile, "utf8"));
  } catch {
    port = await freePort();
    writeFileSync(portFile, String(port));
  }
  const url = `http://127.0.0.1:${port}`;
  const pool = await tokenPool(cache, url, aud, poolSize, log);
  const jwk = publicJwkOf(pool);
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === "/.well-known/openid-configuration") {
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks` }));
    } else if (req.url === "/jwks") {
      fetches++;
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    pool,
    server: {
      url,
      fetches: () => fetches,
      close: () => new Promise<void>((r) => server.close(() => r())),
    },
  };
}
