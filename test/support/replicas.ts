import { type RunningServer, startServer } from "../../src/server.js";
import { memoryAudit } from "../../src/telemetry/audit.js";
import { silentLogger } from "../../src/telemetry/logger.js";

export interface RaceResult {
  readonly statuses: number[];
  readonly reasons: unknown[];
  readonly tokens: number;
}

/** A second trustpub replica with the same config (its own process state, the same Redis). */
export function startReplica(config: Record<string, unknown>): Promise<RunningServer> {
  return startServer({
    config,
    env: {},
    port: 0,
    host: "127.0.0.1",
    logger: silentLogger,
    audit: memoryAudit(),
  });
}

/** `n` concurrent exchanges of one token, spread round-robin over the replicas' URLs. */
export async function raceExchanges(
  urls: readonly string[],
  token: string,
  n: number,
): Promise<RaceResult> {
  const answers = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await fetch(`${urls[i % urls.length]}/v1/exchange`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    }),
  );
  return {
    statuses: answers.map((a) => a.status),
    reasons: answers.filter((a) => a.status !== 200).map((a) => a.body.reason),
    tokens: answers.filter((a) => typeof a.body.token === "string").length,
  };
}

/** Polls `/readyz` until 200 (a Sentinel or Cluster client needs a moment to find its nodes). */
export async function waitReady(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${url}/readyz`);
    if (res.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} not ready: ${await res.text()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
