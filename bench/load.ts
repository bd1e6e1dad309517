import { readFileSync } from "node:fs";
import autocannon from "autocannon";

/**
 * One load run, in its own process so the load generator never shares an
 * event loop with a server. argv[2] is a JSON LoadSpec; prints one JSON
 * LoadResult line on stdout.
 */
export interface LoadSpec {
  url: string;
  method: "GET" | "POST";
  path: string;
  headers?: Record<string, string>;
  /** POST bodies `{"token": <next token>}` from this file (one token a line), each used once. */
  tokensFile?: string;
  tokenOffset?: number;
  durationSeconds: number;
  connections: number;
  /** Requests a second over all connections (fixed-rate runs); omitted: as fast as possible. */
  overallRate?: number;
  /** Stop after this many requests. */
  amount?: number;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

const spec = JSON.parse(process.argv[2]!) as LoadSpec;
const tokens = spec.tokensFile
  ? readFileSync(spec.tokensFile, "utf8").split("\n").filter(Boolean)
  : [];
let next = spec.tokenOffset ?? 0;

autocannon(
  {
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationSeconds,
    ...(spec.amount ? { amount: spec.amount } : {}),
    ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
    requests: [
      {
        method: spec.method,
        path: spec.path,
        headers: {
          ...(spec.tokensFile ? { "content-type": "application/json" } : {}),
          ...spec.headers,
        },
        ...(spec.tokensFile
          ? {
              setupRequest: (req: autocannon.Request) => {
                const token = tokens[next++ % tokens.length];
                return { ...req, body: `{"token":"${token}"}` };
              },
            }
          : {}),
      },
    ],
  },
  (err: Error | null, result: autocannon.Result) => {
    if (err) throw err;
    const out: LoadResult = {
      requests: result.requests.total,
      rps: result.requests.total / (result.duration || spec.durationSeconds),
      p50: result.latency.p50,
      p99: result.latency.p99,
      p999: (result.latency as unknown as Record<string, number>).p99_9 ?? result.latency.max,
      ok: result["2xx"],
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  },
);
