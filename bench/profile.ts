import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { startRedis } from "../test/support/redis.js";
import type { LoadSpec } from "./load.js";
import {
  AUD,
  authzLoad,
  benchConfig,
  cache,
  DISTINCT_AUTHZ_TOKENS,
  issueToken,
  issueTokensFile,
  load,
  log,
  root,
  startIssuer,
  startTrustpub,
} from "./setup.js";

/**
 * `npm run bench:profile`: trustpub under the bench's load with the V8 CPU
 * profiler on, then where its main thread spent the time: by package or
 * source file, and the hottest functions by self time. The `.cpuprofile`
 * is written to bench/results/profiles/ (open it in Chrome DevTools or
 * speedscope). Knobs: PROFILE_SCENARIO (exchange | authz | authz-distinct: a
 * new token every request), PROFILE_SECONDS
 * (10), BENCH_CONNECTIONS (32), BENCH_LIMITS=off.
 */
const SCENARIO = process.env.PROFILE_SCENARIO ?? "exchange";
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame belongs: an npm package, a trustpub source file, or Node itself. */
function placeOf(url: string): string {
  if (url === "") return "(native / idle / gc)";
  const path = url.replace(/^file:\/\//, "");
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return `npm:${pkg[1]}`;
  if (path.startsWith("node:")) return path;
  return relative(root, path);
}

function summarize(profile: CpuProfile): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const place = placeOf(frame.url);
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
    const name =
      frame.url === ""
        ? `(${frame.functionName})`
        : `${frame.functionName || "(anonymous)"} ${place}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  }
  // Inclusive time of trustpub's own functions: every sample counted once for each function on its stack.
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      const place = placeOf(frame.url);
      if (place.startsWith("dist/")) {
        onStack.add(`${frame.functionName || "(anonymous)"} ${place}:${frame.lineNumber + 1}`);
      }
    }
    for (const name of onStack) inclusive.set(name, (inclusive.get(name) ?? 0) + us);
  }
  const top = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
  return [
    `self time by place (${(total / 1e6).toFixed(1)} s sampled):`,
    ...top(byPlace, 20),
    "hottest functions by self time:",
    ...top(byFunction, 30),
    "trustpub's functions by inclusive time (synchronous part of each call):",
    ...top(inclusive, 30),
  ].join("\n");
}

async function main() {
  const redis = await startRedis();
  const issuer = await startIssuer(AUD, 40_000);
  const tokensFile = join(cache, "tokens.txt");
  writeFileSync(tokensFile, issuer.pool.tokens.join("\n"));
  const configFile = join(cache, "config.json");
  writeFileSync(
    configFile,
    JSON.stringify(benchConfig(issuer.server.url, redis.url, process.env.BENCH_LIMITS !== "off")),
  );
  const dir = join(root, "bench", "results", "profiles");
  mkdirSync(dir, { recursive: true });
  const before = new Set(readdirSync(dir));

  log("starting trustpub with the CPU profiler on");
  const tp = await startTrustpub(configFile, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
  const exchange: LoadSpec = {
    url: tp.url,
    method: "POST",
    path: "/v1/exchange",
    tokensFile,
    durationSeconds: SECONDS,
    connections: CONNECTIONS,
  };
  let spec = exchange;
  if (SCENARIO === "authz") {
    const issued = await issueToken(tp.url, issuer.pool.tokens.at(-1)!);
    spec = authzLoad(tp.url, { token: issued }, SECONDS, CONNECTIONS);
  } else if (SCENARIO === "authz-distinct") {
    log(`issuing ${DISTINCT_AUTHZ_TOKENS} distinct tokens`);
    const tokensFile = await issueTokensFile(
      tp.url,
      issuer.pool.tokens.slice(0, DISTINCT_AUTHZ_TOKENS),
    );
    spec = authzLoad(tp.url, { tokensFile }, SECONDS, CONNECTIONS);
  }
  log(`${SCENARIO}: ${SECONDS} s at ${CONNECTIONS} connections`);
  const result = await load(spec);
  log(`${Math.round(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms`);
  await tp.stop();
  await issuer.server.close();
  await redis.close();

  const written = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile") && !before.has(f))
    .sort((a, b) => statSync(join(dir, b)).mtimeMs - statSync(join(dir, a)).mtimeMs);
  if (written.length === 0) throw new Error("trustpub wrote no CPU profile");
  const file = join(dir, written[0]!);
  process.stdout.write(`${summarize(JSON.parse(readFileSync(file, "utf8")))}\n`);
  log(`profile written to ${relative(root, file)}`);
}

main().catch((err: unknown) => {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
