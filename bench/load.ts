import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
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
  /** `Authorization: Bearer <next token>` from this file (one a line), in turn. */
  bearerTokensFile?: string;
  durationSeconds: number;
  connections: number;
  /**
   * Requests a second, evenly paced and open loop (fixed-rate runs); omitted:
   * as fast as the connections allow (autocannon). autocannon's own rate
   * sends each second's quota at once and then waits, which measures bursts.
   */
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
  /** CPU the load generator itself used, user + system, in ms. */
  cpuMs: number;
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

const spec = JSON.parse(process.argv[2]!) as LoadSpec;
const tokens = spec.tokensFile
  ? readFileSync(spec.tokensFile, "utf8").split("\n").filter(Boolean)
  : [];
let next = spec.tokenOffset ?? 0;
const bearers = spec.bearerTokensFile
  ? readFileSync(spec.bearerTokensFile, "utf8").split("\n").filter(Boolean)
  : [];
let nextBearer = 0;

if (spec.overallRate) {
  paced(spec, spec.overallRate).then((out) => process.stdout.write(`${JSON.stringify(out)}\n`));
} else {
  autocannon(
    {
      url: spec.url,
      connections: spec.connections,
      duration: spec.durationSeconds,
      ...(spec.amount ? { amount: spec.amount } : {}),
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
          ...(spec.bearerTokensFile
            ? {
                setupRequest: (req: autocannon.Request) => {
                  const bearer = bearers[nextBearer++ % bearers.length];
                  return { ...req, headers: { ...req.headers, authorization: `Bearer ${bearer}` } };
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
        cpuMs: cpuMs(),
      };
      process.stdout.write(`${JSON.stringify(out)}\n`);
    },
  );
}

/**
 * Open-loop load at a fixed rate: request i is due at i / rate seconds and
 * is sent then (checked every millisecond), whether or not earlier ones were
 * answered; its latency counts from when it was due, so waiting for a free
 * connection counts too (no coordinated omission).
 */
function paced(spec: LoadSpec, rate: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: spec.connections });
  const url = new URL(spec.path, spec.url);
  const total = Math.round(rate * spec.durationSeconds);
  const latencies: number[] = [];
  let sent = 0;
  let settled = 0;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  const started = performance.now();
  return new Promise((resolve) => {
    const settle = () => {
      if (++settled < total) return;
      agent.destroy();
      const sorted = latencies.sort((a, b) => a - b);
      const at = (q: number) =>
        Math.round(10 * (sorted[Math.floor(q * (sorted.length - 1))] ?? 0)) / 10;
      resolve({
        requests: total,
        rps: total / ((performance.now() - started) / 1000),
        p50: at(0.5),
        p99: at(0.99),
        p999: at(0.999),
        ok,
        non2xx,
        errors,
        timeouts,
        cpuMs: cpuMs(),
      });
    };
    const send = (due: number) => {
      const body = spec.tokensFile ? `{"token":"${tokens[next++ % tokens.length]}"}` : undefined;
      const req = request(
        url,
        {
          method: spec.method,
          agent,
          timeout: 10_000,
          headers: { ...(body ? { "content-type": "application/json" } : {}), ...spec.headers },
        },
        (res) => {
          res.resume();
          res.once("end", () => {
            latencies.push(performance.now() - due);
            if (res.statusCode! >= 200 && res.statusCode! < 300) ok++;
            else non2xx++;
            settle();
          });
        },
      );
      let timedOut = false;
      req.once("timeout", () => {
        timedOut = true;
        req.destroy();
      });
      req.once("error", () => {
        if (timedOut) timeouts++;
        else errors++;
        settle();
      });
      req.end(body);
    };
    const tick = () => {
      // Requests 0..k are due once k / rate seconds have passed: request 0 at once.
      const elapsed = (performance.now() - started) / 1000;
      const due = Math.min(total, Math.floor(elapsed * rate) + 1);
      for (; sent < due; sent++) send(started + (sent / rate) * 1000);
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}
