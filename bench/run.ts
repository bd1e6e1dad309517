import { type ChildProcess, execFileSync, fork, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../test/support/ports.js";
import { type RedisProcess, startRedis } from "../test/support/redis.js";
import type { LoadResult, LoadSpec } from "./load.js";
import { publicJwkOf, tokenPool } from "./tokens.js";

/**
 * `npm run bench`: trustpub against a bare baseline doing only the
 * irreducible work, in the same run, on the same machine, several times;
 * medians and ratios. Environment knobs: BENCH_RUNS (5), BENCH_SECONDS (8),
 * BENCH_CONNECTIONS (32), BENCH_LIMITS=off, BENCH_RSS_EXCHANGES (200000), BENCH_POOL (80000 tokens:
 * at least the peak rate times BENCH_SECONDS), BENCH_QUICK=1.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cache = join(root, "bench", ".cache");
const quick = process.env.BENCH_QUICK === "1";
const RUNS = Number(process.env.BENCH_RUNS ?? (quick ? 2 : 5));
const SECONDS = Number(process.env.BENCH_SECONDS ?? (quick ? 3 : 8));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const RSS_EXCHANGES = Number(process.env.BENCH_RSS_EXCHANGES ?? (quick ? 20_000 : 200_000));
const POOL = Number(process.env.BENCH_POOL ?? (quick ? 30_000 : 80_000));
const AUD = "npm:registry.bench";
const NODE = process.execPath;
const TSX = ["--import", "tsx"];

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

function benchConfig(issuerUrl: string, redisUrl: string) {
  return {
    issuer: "https://sts.bench.example",
    replay: { redis: redisUrl },
    defaults: { max_token_age: "24h" },
    shutdown: { delay: "0s" },
    // On, with limits nobody reaches, so their cost is measured; BENCH_LIMITS=off to compare.
    rate_limits:
      process.env.BENCH_LIMITS === "off"
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
        match: {
          repository: "acme/demo",
          repository_owner_id: "1234567",
          workflow: "release.yml",
          environment: "release",
          ref: { glob: "refs/tags/v*" },
        },
        packages: ["@acme/demo", "@acme/demo-*"],
      },
    ],
  };
}

async function waitReady(
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

interface Proc {
  child: ChildProcess;
  url: string;
  startMs: number;
  stop(): Promise<void>;
}

async function startTrustpub(configFile: string): Promise<Proc> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(NODE, [join(root, "dist", "cli.js"), "serve", "--config", configFile], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, "/readyz", child);
  return { child, url, startMs: performance.now() - started, stop: () => stopChild(child) };
}

async function startBaseline(script: string, args: string[]): Promise<Proc> {
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

function stopChild(child: ChildProcess): Promise<void> {
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

function load(spec: LoadSpec): Promise<LoadResult> {
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

function rss(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

interface Row {
  server: string;
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  non2xx: number;
  runs: number[];
}

function summarize(server: string, results: LoadResult[]): Row {
  return {
    server,
    rps: median(results.map((r) => r.rps)),
    p50: median(results.map((r) => r.p50)),
    p99: median(results.map((r) => r.p99)),
    p999: median(results.map((r) => r.p999)),
    non2xx: results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0),
    runs: results.map((r) => Math.round(r.rps)),
  };
}

function table(title: string, rows: Row[], baseline: Row, extra: Record<string, string>) {
  const lines = [
    `\n${title}`,
    "| server | req/s (median) | p50 ms | p99 ms | p99.9 ms | ratio | failed | runs (req/s) |",
    "|---|---:|---:|---:|---:|---:|---:|---|",
    ...rows.map(
      (r) =>
        `| ${r.server} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.p999} | ${(r.rps / baseline.rps).toFixed(2)} | ${r.non2xx} | ${r.runs.join(", ")} |`,
    ),
    ...Object.entries(extra).map(([k, v]) => `- ${k}: ${v}`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function main() {
  log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  );
  log(`runs ${RUNS} x ${SECONDS} s, ${CONNECTIONS} connections`);
  log("building dist/");
  execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "inherit" });

  const redis: RedisProcess = await startRedis();
  const issuer = await startIssuer(AUD);
  const pool = issuer.pool;
  const tokensFile = join(cache, "tokens.txt");
  writeFileSync(tokensFile, pool.tokens.join("\n"));
  const configFile = join(cache, "config.json");
  writeFileSync(configFile, JSON.stringify(benchConfig(issuer.server.url, redis.url)));
  const results: Record<string, unknown> = {};
  // Every load run starts on an empty Redis, so the pool's tokens are fresh CI tokens each time.
  const flush = () => redis.flush();

  // Exchange: trustpub vs the bare pipeline.
  log("starting trustpub");
  const tp = await startTrustpub(configFile);
  log(`trustpub ready in ${tp.startMs.toFixed(0)} ms`);
  const bare = await startBaseline("exchange.ts", [redis.url, JSON.stringify(publicJwkOf(pool))]);
  const warm: LoadSpec = {
    url: tp.url,
    method: "POST",
    path: "/v1/exchange",
    tokensFile,
    durationSeconds: 2,
    connections: CONNECTIONS,
  };
  log("warming up both servers");
  await flush();
  await load(warm);
  await flush();
  await load({ ...warm, url: bare.url });
  const fetchesBefore = issuer.server.fetches();
  const tpRuns: LoadResult[] = [];
  const bareRuns: LoadResult[] = [];
  for (let run = 0; run < RUNS; run++) {
    const order = run % 2 === 0 ? ["bare", "trustpub"] : ["trustpub", "bare"];
    for (const which of order) {
      const url = which === "bare" ? bare.url : tp.url;
      await flush();
      const r = await load({ ...warm, url, durationSeconds: SECONDS });
      (which === "bare" ? bareRuns : tpRuns).push(r);
      log(
        `exchange run ${run + 1}/${RUNS} ${which}: ${Math.round(r.rps)} req/s, p99 ${r.p99} ms, failed ${r.non2xx + r.errors}`,
      );
    }
  }
  const steadyFetches = issuer.server.fetches() - fetchesBefore;
  const tpRow = summarize("trustpub POST /v1/exchange", tpRuns);
  const bareRow = summarize("bare (node:http + RS256 verify + SET NX + ES256 sign)", bareRuns);

  await flush();
  const half = Math.max(1, Math.round(tpRow.rps / 2));
  log(`latency at half the peak rate (${half} req/s)`);
  const halfRun = await load({ ...warm, durationSeconds: SECONDS, overallRate: half });

  table("Exchange", [bareRow, tpRow], bareRow, {
    [`trustpub at half the peak rate (${half} req/s)`]: `p50 ${halfRun.p50} ms, p99 ${halfRun.p99} ms, p99.9 ${halfRun.p999} ms`,
    "issuer key fetches during steady state": String(steadyFetches),
    "trustpub start-to-ready": `${tp.startMs.toFixed(0)} ms`,
    "trustpub peak RSS": `${rss(tp.child.pid!).peakMb.toFixed(0)} MB`,
    "bare peak RSS": `${rss(bare.child.pid!).peakMb.toFixed(0)} MB`,
  });
  results.exchange = {
    baseline: bareRow,
    trustpub: tpRow,
    ratio: tpRow.rps / bareRow.rps,
    halfRate: { rate: half, ...halfRun },
    steadyFetches,
    startMs: tp.startMs,
  };
  await bare.stop();

  // RSS growth over many exchanges, in segments of the pool with Redis flushed between.
  log(`RSS over ${RSS_EXCHANGES} exchanges`);
  const rssStart = rss(tp.child.pid!).rssMb;
  let done = 0;
  let failed = 0;
  while (done < RSS_EXCHANGES) {
    await flush();
    const amount = Math.min(pool.tokens.length, RSS_EXCHANGES - done);
    const r = await load({ ...warm, durationSeconds: 600, amount, tokenOffset: 0 });
    done += r.requests;
    failed += r.non2xx + r.errors + r.timeouts;
    log(`  ${done} exchanges, RSS ${rss(tp.child.pid!).rssMb.toFixed(0)} MB`);
  }
  const rssEnd = rss(tp.child.pid!).rssMb;
  const growth = (rssEnd - rssStart) / rssStart;
  process.stdout.write(
    `\nRSS over ${done} exchanges: ${rssStart.toFixed(0)} MB after warm-up -> ${rssEnd.toFixed(0)} MB (${(growth * 100).toFixed(1)} %), failed ${failed}\n`,
  );
  results.rss = { exchanges: done, startMb: rssStart, endMb: rssEnd, growth, failed };

  // Forward auth: GET /v1/authz with an issued token vs a bare ES256 verify.
  await flush();
  const issued = await fetch(`${tp.url}/v1/exchange`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token: pool.tokens[0] }),
  }).then((r) => r.json() as Promise<{ token: string }>);
  const jwks = (await fetch(`${tp.url}/.well-known/jwks.json`).then((r) => r.json())) as {
    keys: Record<string, unknown>[];
  };
  const bareAuthz = await startBaseline("authz.ts", [JSON.stringify(jwks.keys[0])]);
  const authzSpec = (url: string): LoadSpec => ({
    url,
    method: "GET",
    path: "/v1/authz",
    headers: {
      authorization: `Bearer ${issued.token}`,
      "x-original-method": "PUT",
      "x-original-uri": "/@acme%2fdemo",
    },
    durationSeconds: SECONDS,
    connections: CONNECTIONS,
  });
  await load({ ...authzSpec(tp.url), durationSeconds: 2 });
  await load({ ...authzSpec(bareAuthz.url), durationSeconds: 2 });
  const tpAuthz: LoadResult[] = [];
  const bareAuthzRuns: LoadResult[] = [];
  for (let run = 0; run < RUNS; run++) {
    for (const which of run % 2 === 0 ? ["bare", "trustpub"] : ["trustpub", "bare"]) {
      const r = await load(authzSpec(which === "bare" ? bareAuthz.url : tp.url));
      (which === "bare" ? bareAuthzRuns : tpAuthz).push(r);
      log(
        `authz run ${run + 1}/${RUNS} ${which}: ${Math.round(r.rps)} req/s, p99 ${r.p99} ms, failed ${r.non2xx + r.errors}`,
      );
    }
  }
  const authzRow = summarize("trustpub GET /v1/authz", tpAuthz);
  const bareAuthzRow = summarize("bare (node:http + ES256 verify)", bareAuthzRuns);
  table("Forward auth", [bareAuthzRow, authzRow], bareAuthzRow, {});
  results.authz = {
    baseline: bareAuthzRow,
    trustpub: authzRow,
    ratio: authzRow.rps / bareAuthzRow.rps,
  };

  await Promise.all([bareAuthz.stop(), tp.stop()]);
  await issuer.server.close();
  await redis.close();

  mkdirSync(join(root, "bench", "results"), { recursive: true });
  const file = join(
    root,
    "bench",
    "results",
    `bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`,
  );
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine: { cores: cpus().length, model: cpus()[0]?.model, node: process.version },
        runs: RUNS,
        seconds: SECONDS,
        connections: CONNECTIONS,
        ...results,
      },
      null,
      2,
    ),
  );
  log(`results written to ${file}`);
}

/** The issuer's URL is inside every token, so the pool is tied to one port, kept with the cache. */
async function startIssuer(aud: string) {
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
  const pool = await tokenPool(cache, url, aud, POOL, log);
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

main().catch((err: unknown) => {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
