/**
 * `npm run soak`: a bounded run at a steady exchange rate against a real
 * trustpub process (the production entry), a real redis-server and a real
 * local OIDC issuer, all on 127.0.0.1, with the load coming from a separate
 * process. Meanwhile Redis is stopped and restarted, then paused, and the
 * issuer's key endpoint goes away (while the issuer rotates its key) and
 * comes back. Prints a JSON summary and a table; exits non-zero when a token
 * was issued while Redis was down, a request hung, or trustpub did not
 * recover.
 *
 *   npm run soak                      about four minutes
 *   npm run soak -- --short           75 seconds (CI)
 *   SOAK_SECONDS=600 SOAK_RATE=80 npm run soak
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportJWK } from "jose";
import { demoReleaseMatch } from "../test/support/claims.js";
import { NPM_AUDIENCE } from "../test/support/harness.js";
import { startIssuer, type TestIssuer } from "../test/support/issuer.js";
import { type RedisProcess, startRedis } from "../test/support/redis.js";
import type { Attempt, FromLoad, ToLoad } from "./soak-protocol.js";
import { printTable, summarize, type Timeline } from "./soak-report.js";

const here = dirname(fileURLToPath(import.meta.url));
const short = process.argv.includes("--short");
const durationS = Number(process.env.SOAK_SECONDS ?? (short ? 75 : 240));
const rate = Number(process.env.SOAK_RATE ?? 40);
const TIMEOUT_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startTrustpub(
  config: object,
  dir: string,
): Promise<{ child: ChildProcess; url: string; successes: number[] }> {
  const path = join(dir, "trustpub.json");
  await writeFile(path, JSON.stringify(config, null, 2));
  const cli = join(here, "..", "src", "cli.js");
  const child = spawn(process.execPath, [cli, "serve", "--config", path], {
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const successes: number[] = [];
  let buffered = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("trustpub did not start within 20 s")), 20_000);
    child.once("exit", (code) => reject(new Error(`trustpub exited with ${code}`)));
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        let record: {
          audit?: boolean;
          outcome?: string;
          time?: string;
          msg?: string;
          url?: string;
        };
        try {
          record = JSON.parse(line);
        } catch {
          continue;
        }
        if (record.audit && record.outcome === "success") successes.push(Date.parse(record.time!));
        else if (record.msg === "trustpub is serving") {
          clearTimeout(timer);
          resolve(record.url!);
        } else if (record.msg && !record.audit) {
          console.error(`  trustpub: ${record.msg}`);
        }
      }
    });
  });
  return { child, url, successes };
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
}

async function main(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "trustpub-soak-"));
  const issuer: TestIssuer = await startIssuer({ alg: "RS256" });
  // Durable, as a production Redis for trustpub must be: claimed JTIs survive its restart.
  const redis: RedisProcess = await startRedis({
    extraArgs: ["--appendonly", "yes", "--appendfsync", "always"],
  });
  const config = {
    issuer: "https://sts.soak.test",
    replay: { redis: redis.url, command_timeout: "500ms" },
    rate_limits: { per_client: "1000/s", per_issuer: "1000/s", per_publisher: "500/s" },
    shutdown: { delay: "0s", drain_timeout: "5s" },
    ci_issuers: { github: { url: issuer.url, provider: "github", allow_http: true } },
    registries: {
      "npm-internal": {
        flavor: "npm",
        audience: NPM_AUDIENCE,
        token_audience: "https://registry.test",
      },
    },
    publishers: [
      {
        id: "acme-demo-release",
        registry: "npm-internal",
        ci_issuer: "github",
        match: demoReleaseMatch(),
        packages: ["@acme/demo"],
      },
    ],
  };
  const trustpub = await startTrustpub(config, dir);
  const pid = trustpub.child.pid!;
  const load = fork(join(here, "soak-load.js"), [], {
    serialization: "advanced",
    stdio: "inherit",
  });
  const done = new Promise<FromLoad>((resolve, reject) => {
    load.once("message", (m: FromLoad) => resolve(m));
    load.once(
      "exit",
      (code) => code !== 0 && reject(new Error(`the load process exited with ${code}`)),
    );
  });
  const rss: number[] = [];
  const sampler = setInterval(
    () =>
      void rssKiB(pid)
        .then((kib) => rss.push(kib))
        .catch(() => {}),
    2000,
  );
  const t0 = Date.now();
  const at = async (seconds: number) => sleep(Math.max(0, t0 + seconds * 1000 - Date.now()));
  const timeline: Timeline = { startedAt: t0, durationS, rate };
  const log = (what: string) =>
    console.error(`  [${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);

  console.error(
    `soak: ${durationS} s at ${rate} exchanges/s against ${trustpub.url} (trustpub pid ${pid})`,
  );
  load.send({
    type: "start",
    url: trustpub.url,
    issuer: issuer.url,
    audience: NPM_AUDIENCE,
    key: { kid: issuer.key.kid, jwk: await exportJWK(issuer.key.privateKey) },
    ratePerSecond: rate,
    durationMs: durationS * 1000,
    timeoutMs: TIMEOUT_MS,
  } satisfies ToLoad);

  await at(5);
  timeline.rssStartKiB = await rssKiB(pid);

  await at(durationS * 0.15);
  log("stopping redis");
  await redis.stop();
  timeline.redisDown = Date.now();
  await at(durationS * 0.15 + Math.max(10, durationS * 0.1));
  log("starting redis");
  timeline.redisRestarting = Date.now();
  await redis.start();
  timeline.redisBack = Date.now();

  await at(durationS * 0.4);
  log("pausing redis (SIGSTOP) for 5 s");
  redis.pause();
  timeline.redisPaused = Date.now();
  await sleep(5000);
  redis.resume();
  timeline.redisResumed = Date.now();

  await at(durationS * 0.5);
  log("the issuer's key endpoint goes away; the issuer rotates to a new key");
  issuer.setDown(true);
  const rotated = await issuer.addKey();
  load.send({
    type: "rotate",
    key: { kid: rotated.kid, jwk: await exportJWK(rotated.privateKey) },
    share: 0.25,
  } satisfies ToLoad);
  timeline.jwksDown = Date.now();
  await at(durationS * 0.5 + Math.max(10, durationS * 0.12));
  log("the issuer's key endpoint is back");
  issuer.setDown(false);
  timeline.jwksBack = Date.now();

  const result = await done;
  clearInterval(sampler);
  timeline.rssEndKiB = await rssKiB(pid);
  timeline.rssMaxKiB = Math.max(timeline.rssEndKiB, ...rss);
  log("load finished; stopping");

  trustpub.child.kill("SIGTERM");
  await new Promise((r) => trustpub.child.once("exit", r));
  await Promise.all([issuer.stop(), redis.close()]);
  await rm(dir, { recursive: true, force: true });

  const summary = summarize(
    result.attempts as Attempt[],
    result.skipped,
    trustpub.successes,
    timeline,
  );
  const out = join(here, "..", "..", "..", "bench", "results");
  await mkdir(out, { recursive: true });
  const file = join(out, `soak-${new Date(t0).toISOString().replace(/[:.]/g, "-")}.json`);
  await writeFile(file, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  printTable(summary);
  console.error(`written to ${file}`);
  return summary.verdict.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
