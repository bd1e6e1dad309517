import type { Attempt } from "./soak-protocol.js";

/** When things happened during the soak (epoch ms), and what was measured outside the load. */
export interface Timeline {
  startedAt: number;
  durationS: number;
  rate: number;
  rssStartKiB?: number;
  rssEndKiB?: number;
  rssMaxKiB?: number;
  redisDown?: number;
  redisRestarting?: number;
  redisBack?: number;
  redisPaused?: number;
  redisResumed?: number;
  jwksDown?: number;
  jwksBack?: number;
}

const KEY_COOLDOWN_MS = 30_000;

function tally(attempts: readonly Attempt[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [, , , status, reason] of attempts) {
    const key = status === 0 ? reason : `${status} ${reason || "ok"}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort(([, a], [, b]) => b - a));
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const ok = (a: Attempt) => a[3] === 200;
const sentIn = (a: Attempt, from = 0, to = Number.POSITIVE_INFINITY) => a[1] >= from && a[1] < to;

/** First success sent at or after `since`: how long after `since` it was answered. */
function recoveryMs(
  attempts: readonly Attempt[],
  since: number | undefined,
  kind?: string,
): number | null {
  if (since === undefined) return null;
  const first = attempts
    .filter((a) => ok(a) && a[1] >= since && (kind === undefined || a[0] === kind))
    .sort((a, b) => a[2] - b[2])[0];
  return first ? first[2] - since : null;
}

export function summarize(
  attempts: readonly Attempt[],
  skipped: number,
  auditSuccesses: readonly number[],
  t: Timeline,
) {
  const mib = (kib?: number) => (kib === undefined ? null : Math.round((kib / 1024) * 10) / 10);
  const end = t.startedAt + t.durationS * 1000;
  const down = [t.redisDown ?? 0, t.redisRestarting ?? 0] as const;
  const issuedWhileDown = attempts.filter(
    (a) => ok(a) && a[1] >= down[0] && a[2] <= down[1],
  ).length;
  const auditWhileDown = auditSuccesses.filter((time) => time > down[0] && time < down[1]).length;
  const pause = attempts.filter((a) => sentIn(a, t.redisPaused, t.redisResumed));
  const outage = attempts.filter((a) => sentIn(a, t.jwksDown, t.jwksBack));
  const cachedDuringOutage = outage.filter((a) => a[0] === "valid");
  const hung = attempts.filter((a) => a[4] === "hung").length;
  const latencies = attempts
    .filter(ok)
    .map((a) => a[2] - a[1])
    .sort((a, b) => a - b);

  // Calm: valid tokens sent away from any fault (a second of margin either side).
  const faults: [number, number][] = [
    [(t.redisDown ?? 0) - 1000, (t.redisBack ?? 0) + 3000],
    [(t.redisPaused ?? 0) - 1000, (t.redisResumed ?? 0) + 3000],
  ];
  const calm = attempts.filter(
    (a) => a[0] === "valid" && faults.every(([from, to]) => a[1] < from || a[1] > to),
  );
  const calmRate = calm.length === 0 ? 0 : calm.filter(ok).length / calm.length;

  const redisRecovery = recoveryMs(attempts, t.redisBack);
  const pauseRecovery = recoveryMs(attempts, t.redisResumed);
  const rotatedRecovery = recoveryMs(attempts, t.jwksBack, "rotated");
  const rotationCanRecover = (t.jwksDown ?? end) + KEY_COOLDOWN_MS + 3000 < end;

  const failures: string[] = [];
  if (issuedWhileDown > 0 || auditWhileDown > 0)
    failures.push("tokens were issued while Redis was down");
  if (hung > 0) failures.push(`${hung} requests hung`);
  const replaysAccepted = attempts.filter((a) => a[0] === "replay" && ok(a)).length;
  if (replaysAccepted > 0) failures.push(`${replaysAccepted} replayed tokens were exchanged again`);
  if (redisRecovery === null) failures.push("no exchange succeeded after Redis came back");
  if (pauseRecovery === null) failures.push("no exchange succeeded after Redis resumed");
  if (cachedDuringOutage.some((a) => !ok(a)))
    failures.push("cached issuer keys did not carry the JWKS outage");
  if (rotationCanRecover && rotatedRecovery === null)
    failures.push("the rotated issuer key was never picked up");
  if (calmRate < 0.99)
    failures.push(
      `only ${(calmRate * 100).toFixed(2)}% of valid exchanges succeeded outside faults`,
    );

  const byKind = (kind: string) => {
    const of = attempts.filter((a) => a[0] === kind);
    return { attempted: of.length, succeeded: of.filter(ok).length };
  };
  return {
    command: `npm run soak${t.durationS === 75 ? " -- --short" : ""}`,
    duration_s: t.durationS,
    rate_per_s: t.rate,
    exchanges: {
      attempted: attempts.length,
      succeeded: attempts.filter(ok).length,
      answers: tally(attempts),
      hung,
      replays_accepted: replaysAccepted,
      not_sent_client_saturated: skipped,
    },
    by_kind: {
      valid: byKind("valid"),
      rotated_key: byKind("rotated"),
      replay: byKind("replay"),
      garbage: byKind("garbage"),
    },
    valid_success_outside_faults: Math.round(calmRate * 10000) / 100,
    redis_stopped: {
      down_s: Math.round((down[1] - down[0]) / 100) / 10,
      tokens_issued_while_down: issuedWhileDown,
      audit_successes_while_down: auditWhileDown,
      answers_while_down: tally(attempts.filter((a) => a[1] >= down[0] && a[1] < down[1])),
      recovery_ms_after_redis_back: redisRecovery,
    },
    redis_paused_5s: {
      answers: tally(pause),
      max_latency_ms: pause.reduce((m, a) => Math.max(m, a[2] ? a[2] - a[1] : 0), 0),
      recovery_ms_after_resume: pauseRecovery,
    },
    jwks_endpoint_down: {
      down_s: Math.round(((t.jwksBack ?? 0) - (t.jwksDown ?? 0)) / 100) / 10,
      cached_key_exchanges: {
        attempted: cachedDuringOutage.length,
        succeeded: cachedDuringOutage.filter(ok).length,
      },
      rotated_key_answers_during_outage: tally(outage.filter((a) => a[0] === "rotated")),
      rotated_key_recovery_ms_after_back: rotatedRecovery,
    },
    latency_ms_of_successes: {
      p50: Math.round(percentile(latencies, 50)),
      p99: Math.round(percentile(latencies, 99)),
      max: Math.round(latencies.at(-1) ?? 0),
    },
    rss_mib: { start: mib(t.rssStartKiB), end: mib(t.rssEndKiB), max: mib(t.rssMaxKiB) },
    verdict: { ok: failures.length === 0, failures },
  };
}

export function printTable(s: ReturnType<typeof summarize>): void {
  const rows: [string, string][] = [
    ["command", s.command],
    ["duration, rate", `${s.duration_s} s at ${s.rate_per_s}/s`],
    ["exchanges attempted", String(s.exchanges.attempted)],
    ["succeeded", String(s.exchanges.succeeded)],
    ...Object.entries(s.exchanges.answers)
      .filter(([k]) => !k.startsWith("200"))
      .map(([k, n]): [string, string] => [`  refused/failed: ${k}`, String(n)]),
    ["requests hung", String(s.exchanges.hung)],
    ["replayed tokens accepted", String(s.exchanges.replays_accepted)],
    ["valid exchanges ok outside faults", `${s.valid_success_outside_faults}%`],
    ["Redis stopped for", `${s.redis_stopped.down_s} s`],
    ["tokens issued while Redis was down", String(s.redis_stopped.tokens_issued_while_down)],
    ["  (per audit log)", String(s.redis_stopped.audit_successes_while_down)],
    ["recovery after Redis returned", `${s.redis_stopped.recovery_ms_after_redis_back} ms`],
    ["Redis paused 5 s: slowest answer", `${s.redis_paused_5s.max_latency_ms} ms`],
    ["recovery after Redis resumed", `${s.redis_paused_5s.recovery_ms_after_resume} ms`],
    ["JWKS endpoint down for", `${s.jwks_endpoint_down.down_s} s`],
    [
      "  cached-key exchanges ok",
      `${s.jwks_endpoint_down.cached_key_exchanges.succeeded}/${s.jwks_endpoint_down.cached_key_exchanges.attempted}`,
    ],
    [
      "  rotated key picked up after",
      `${s.jwks_endpoint_down.rotated_key_recovery_ms_after_back} ms`,
    ],
    [
      "latency p50 / p99 / max",
      `${s.latency_ms_of_successes.p50} / ${s.latency_ms_of_successes.p99} / ${s.latency_ms_of_successes.max} ms`,
    ],
    ["RSS start / end / max", `${s.rss_mib.start} / ${s.rss_mib.end} / ${s.rss_mib.max} MiB`],
    ["verdict", s.verdict.ok ? "ok" : `FAILED: ${s.verdict.failures.join("; ")}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.error(`${k.padEnd(width)}  ${v}`);
}
