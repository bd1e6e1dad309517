import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { type RedisProcess, startRedis } from "../test/support/redis.js";
import type { LoadResult, LoadSpec } from "./load.js";
import {
  AUD,
  authzLoad,
  benchConfig,
  cache,
  cpuMs,
  DISTINCT_AUTHZ_TOKENS,
  issueToken,
  issueTokensFile,
  load,
  log,
  root,
  rss,
  startBaseline,
  startIssuer,
  startTrustpub,
} from "./setup.js";
import { publicJwkOf } from "./tokens.js";

/**
 * `npm run bench`: trustpub against a bare baseline doing only the
 * irreducible work, in the same run, on the same machine, several times;
 * medians and ratios. Environment knobs: BENCH_RUNS (5), BENCH_SECONDS (8),
 * BENCH_CONNECTIONS (32), BENCH_LIMITS=off, BENCH_RSS_EXCHANGES (200000; 0 skips it),
 * BENCH_AUTHZ=off (exchange only), BENCH_POOL (80000 tokens: at least the
 * peak rate times BENCH_SECONDS), BENCH_QUICK=1.
 */
const quick = process.env.BENCH_QUICK === "1";
const RUNS = Number(process.env.BENCH_RUNS ?? (quick ? 2 : 5));
const SECONDS = Number(process.env.BENCH_SECONDS ?? (quick ? 3 : 8));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const RSS_EXCHANGES = Number(process.env.BENCH_RSS_EXCHANGES ?? (quick ? 20_000 : 200_000));
const AUTHZ = process.env.BENCH_AUTHZ !== "off";
const POOL = Number(process.env.BENCH_POOL ?? (quick ? 30_000 : 80_000));

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
  /** Median CPU per answered request, in µs: the server (all threads), Redis, the load generator. */
  cpuUs: { server: number; redis: number; load: number };
}

/** A load run's result with the CPU the server and Redis used during it. */
interface Measured extends LoadResult {
  serverCpuMs: number;
  redisCpuMs: number;
}

function summarize(server: string, results: Measured[]): Row {
  const perRequest = (ms: (r: Measured) => number) =>
    Math.round(median(results.map((r) => (ms(r) * 1000) / r.requests)));
  return {
    server,
    rps: median(results.map((r) => r.rps)),
    p50: median(results.map((r) => r.p50)),
    p99: median(results.map((r) => r.p99)),
    p999: median(results.map((r) => r.p999)),
    non2xx: results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0),
    runs: results.map((r) => Math.round(r.rps)),
    cpuUs: {
      server: perRequest((r) => r.serverCpuMs),
      redis: perRequest((r) => r.redisCpuMs),
      load: perRequest((r) => r.cpuMs),
    },
  };
}

function table(title: string, rows: Row[], baseline: Row, extra: Record<string, string>) {
  const lines = [
    `\n${title}`,
    "| server | req/s (median) | p50 ms | p99 ms | p99.9 ms | ratio | CPU µs/req: server / redis / load | failed | runs (req/s) |",
    "|---|---:|---:|---:|---:|---:|---|---:|---|",
    ...rows.map(
      (r) =>
        `| ${r.server} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.p999} | ${(r.rps / baseline.rps).toFixed(2)} | ${r.cpuUs.server} / ${r.cpuUs.redis} / ${r.cpuUs.load} | ${r.non2xx} | ${r.runs.join(", ")} |`,
    ),
    ...Object.entries(extra).map(([k, v]) => `- ${k}: ${v}`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

interface Contender {
  readonly label: string;
  readonly url: string;
  readonly pid: number;
}

/**
 * Runs every contender RUNS times, rotating who goes first each round so no
 * server always runs on a warmer or cooler machine; `before` runs before
 * each load run (a Redis flush, so pool tokens are fresh CI tokens again).
 */
async function compare(
  scenario: string,
  contenders: readonly Contender[],
  spec: (url: string) => LoadSpec,
  before: () => Promise<void>,
  redisPid: () => number,
  afterWarmUp: () => void = () => {},
): Promise<Row[]> {
  log(`warming up ${contenders.length} servers`);
  for (const contender of contenders) {
    await before();
    await load({ ...spec(contender.url), durationSeconds: 2 });
  }
  afterWarmUp();
  const runs = new Map<string, Measured[]>(contenders.map((c) => [c.label, []]));
  for (let run = 0; run < RUNS; run++) {
    const order = contenders.map((_, i) => contenders[(i + run) % contenders.length]!);
    for (const contender of order) {
      await before();
      const server = cpuMs(contender.pid);
      const redis = cpuMs(redisPid());
      const r = await load(spec(contender.url));
      runs.get(contender.label)!.push({
        ...r,
        serverCpuMs: cpuMs(contender.pid) - server,
        redisCpuMs: cpuMs(redisPid()) - redis,
      });
      log(
        `${scenario} run ${run + 1}/${RUNS} ${contender.label}: ${Math.round(r.rps)} req/s, p99 ${r.p99} ms, failed ${r.non2xx + r.errors}`,
      );
    }
  }
  return contenders.map((c) => summarize(c.label, runs.get(c.label)!));
}

async function main() {
  log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  );
  log(`runs ${RUNS} x ${SECONDS} s, ${CONNECTIONS} connections`);
  log("building dist/");
  execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "inherit" });

  const redis: RedisProcess = await startRedis();
  const issuer = await startIssuer(AUD, POOL);
  const pool = issuer.pool;
  const tokensFile = join(cache, "tokens.txt");
  writeFileSync(tokensFile, pool.tokens.join("\n"));
  const configFile = join(cache, "config.json");
  writeFileSync(
    configFile,
    JSON.stringify(benchConfig(issuer.server.url, redis.url, process.env.BENCH_LIMITS !== "off")),
  );
  const results: Record<string, unknown> = {};
  // Every load run starts on an empty Redis, so the pool's tokens are fresh CI tokens each time.
  const flush = () => redis.flush();
  const redisPid = () => redis.pid()!;

  // Exchange: trustpub vs the bare pipeline, and the stack's floor.
  log("starting trustpub");
  const tp = await startTrustpub(configFile);
  log(`trustpub ready in ${tp.startMs.toFixed(0)} ms`);
  const issuerJwk = JSON.stringify(publicJwkOf(pool));
  const bare = await startBaseline("exchange.ts", [redis.url, issuerJwk]);
  const stack = await startBaseline("stack-exchange.ts", [redis.url, issuerJwk]);
  const warm: LoadSpec = {
    url: tp.url,
    method: "POST",
    path: "/v1/exchange",
    tokensFile,
    durationSeconds: 2,
    connections: CONNECTIONS,
  };
  // Steady state starts after the warm-up, which fetches the issuer's keys once.
  let fetchesBefore = 0;
  const [bareRow, stackRow, tpRow] = (await compare(
    "exchange",
    [
      {
        label: "bare (node:http + RS256 verify + SET NX + ES256 sign)",
        url: bare.url,
        pid: bare.child.pid!,
      },
      { label: "stack floor (Hono + jose, same steps)", url: stack.url, pid: stack.child.pid! },
      { label: "trustpub POST /v1/exchange", url: tp.url, pid: tp.child.pid! },
    ],
    (url) => ({ ...warm, url, durationSeconds: SECONDS }),
    flush,
    redisPid,
    () => {
      fetchesBefore = issuer.server.fetches();
    },
  )) as [Row, Row, Row];
  const steadyFetches = issuer.server.fetches() - fetchesBefore;

  // Latency at half the peak rate, evenly paced; the bare baseline and the
  // stack floor at the same rate show what the machine and the stack add.
  const half = Math.max(1, Math.round(tpRow.rps / 2));
  log(`latency at half the peak rate (${half} req/s)`);
  const paced = async (url: string) => {
    await flush();
    return load({ ...warm, url, durationSeconds: SECONDS, overallRate: half });
  };
  const halfRun = await paced(tp.url);
  const bareHalf = await paced(bare.url);
  const stackHalf = await paced(stack.url);

  table("Exchange", [bareRow, stackRow, tpRow], bareRow, {
    [`trustpub at half its peak rate (${half} req/s, paced)`]: `p50 ${halfRun.p50} ms, p99 ${halfRun.p99} ms, p99.9 ${halfRun.p999} ms, failed ${halfRun.non2xx + halfRun.errors + halfRun.timeouts}`,
    "bare at the same rate": `p50 ${bareHalf.p50} ms, p99 ${bareHalf.p99} ms, p99.9 ${bareHalf.p999} ms`,
    "stack floor at the same rate": `p50 ${stackHalf.p50} ms, p99 ${stackHalf.p99} ms, p99.9 ${stackHalf.p999} ms`,
    "issuer key fetches during steady state": String(steadyFetches),
    "trustpub start-to-ready": `${tp.startMs.toFixed(0)} ms`,
    "trustpub peak RSS": `${rss(tp.child.pid!).peakMb.toFixed(0)} MB`,
    "bare peak RSS": `${rss(bare.child.pid!).peakMb.toFixed(0)} MB`,
    "trustpub / stack floor": (tpRow.rps / stackRow.rps).toFixed(2),
  });
  results.exchange = {
    baseline: bareRow,
    stackFloor: stackRow,
    trustpub: tpRow,
    ratio: tpRow.rps / bareRow.rps,
    ratioToStackFloor: tpRow.rps / stackRow.rps,
    halfRate: { rate: half, ...halfRun },
    bareAtHalfRate: bareHalf,
    stackFloorAtHalfRate: stackHalf,
    steadyFetches,
    startMs: tp.startMs,
  };
  await Promise.all([bare.stop(), stack.stop()]);

  // RSS growth over many exchanges, in segments of the pool with Redis flushed between.
  if (RSS_EXCHANGES > 0) {
    // RSS moves with the garbage collector's phase, so one reading at each end
    // says little: RSS is sampled every 250 ms, and growth compares the
    // median of the first segment of the pool with the median of the last.
    log(`RSS over ${RSS_EXCHANGES} exchanges`);
    let done = 0;
    let failed = 0;
    const segments: number[][] = [];
    while (done < RSS_EXCHANGES) {
      await flush();
      const amount = Math.min(pool.tokens.length, RSS_EXCHANGES - done);
      const samples: number[] = [];
      const sampler = setInterval(() => samples.push(rss(tp.child.pid!).rssMb), 250);
      const r = await load({ ...warm, durationSeconds: 600, amount, tokenOffset: 0 });
      clearInterval(sampler);
      segments.push(samples);
      done += r.requests;
      failed += r.non2xx + r.errors + r.timeouts;
      log(`  ${done} exchanges, RSS median ${median(samples).toFixed(0)} MB in this segment`);
    }
    const rssStart = median(segments[0]!);
    const rssEnd = median(segments.at(-1)!);
    const all = segments.flat();
    const growth = (rssEnd - rssStart) / rssStart;
    process.stdout.write(
      `\nRSS over ${done} exchanges: median ${rssStart.toFixed(0)} MB in the first segment -> ${rssEnd.toFixed(0)} MB in the last (${(growth * 100).toFixed(1)} %), range ${Math.min(...all).toFixed(0)}-${Math.max(...all).toFixed(0)} MB, failed ${failed}\n`,
    );
    results.rss = { exchanges: done, startMb: rssStart, endMb: rssEnd, growth, failed };
  }

  // Forward auth: GET /v1/authz with an issued token vs a bare ES256 verify.
  if (AUTHZ) {
    await flush();
    const issued = await issueToken(tp.url, pool.tokens[0]!);
    const jwks = (await fetch(`${tp.url}/.well-known/jwks.json`).then((r) => r.json())) as {
      keys: Record<string, unknown>[];
    };
    const authzKey = JSON.stringify(jwks.keys[0]);
    const bareAuthz = await startBaseline("authz.ts", [authzKey]);
    const stackAuthz = await startBaseline("stack-authz.ts", [authzKey]);
    const authzContenders: Contender[] = [
      { label: "bare (node:http + ES256 verify)", url: bareAuthz.url, pid: bareAuthz.child.pid! },
      {
        label: "stack floor (Hono + jose, same steps)",
        url: stackAuthz.url,
        pid: stackAuthz.child.pid!,
      },
      { label: "trustpub GET /v1/authz", url: tp.url, pid: tp.child.pid! },
    ];
    /** One forward-auth scenario: the three servers compared, its table, and its results. */
    const forwardAuth = async (
      scenario: string,
      title: string,
      credential: Parameters<typeof authzLoad>[1],
    ) => {
      const [bareRow, stackRow, tpRow] = (await compare(
        scenario,
        authzContenders,
        (url) => authzLoad(url, credential, SECONDS, CONNECTIONS),
        async () => {},
        redisPid,
      )) as [Row, Row, Row];
      table(title, [bareRow, stackRow, tpRow], bareRow, {
        "trustpub / stack floor": (tpRow.rps / stackRow.rps).toFixed(2),
      });
      return {
        baseline: bareRow,
        stackFloor: stackRow,
        trustpub: tpRow,
        ratio: tpRow.rps / bareRow.rps,
        ratioToStackFloor: tpRow.rps / stackRow.rps,
      };
    };
    results.authz = await forwardAuth(
      "authz",
      "Forward auth, one token (a job's requests through a mirror)",
      { token: issued },
    );

    // The worst case: every request a token trustpub has not seen yet.
    const distinct = Math.min(pool.tokens.length - 1, DISTINCT_AUTHZ_TOKENS);
    log(`issuing ${distinct} distinct tokens for forward auth`);
    await flush();
    const tokensFile = await issueTokensFile(tp.url, pool.tokens.slice(1, distinct + 1));
    results.authzDistinctTokens = {
      tokens: distinct,
      ...(await forwardAuth(
        "authz-distinct",
        `Forward auth, a new token every request (${distinct} tokens in turn)`,
        { tokensFile },
      )),
    };

    await Promise.all([bareAuthz.stop(), stackAuthz.stop()]);
  }
  await tp.stop();
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
  // A fault-free run answers every request: anything else means the numbers measure failures.
  const failures = JSON.stringify(results).match(/"(non2xx|failed|errors|timeouts)":[1-9]/g);
  if (failures) {
    log(`failed: requests were refused or errored (${failures.join(", ")}); see the tables`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
