/**
 * The soak's load: a separate process that exchanges CI tokens with trustpub
 * at a steady rate (open loop: a request leaves on schedule whether or not
 * earlier ones were answered) and records every attempt. A request not
 * answered within the timeout is aborted and recorded as hung.
 */
import { CompactSign, importJWK } from "jose";
import { githubClaims } from "../test/support/claims.js";
import type { Attempt, AttemptKind, FromLoad, ToLoad } from "./soak-protocol.js";

const MAX_IN_FLIGHT = 512;

interface Signer {
  readonly kid: string;
  readonly key: CryptoKey | Uint8Array;
}

async function signer(key: { kid: string; jwk: Parameters<typeof importJWK>[0] }): Promise<Signer> {
  return { kid: key.kid, key: await importJWK(key.jwk, "RS256") };
}

async function run(start: Extract<ToLoad, { type: "start" }>): Promise<FromLoad> {
  const current = await signer(start.key);
  let rotated: Signer | undefined;
  let rotatedShare = 0;
  process.on("message", (message: ToLoad) => {
    if (message.type !== "rotate") return;
    void signer(message.key).then((s) => {
      rotated = s;
      rotatedShare = message.share;
    });
  });

  const used: string[] = [];
  const attempts: Attempt[] = [];
  let inFlight = 0;
  let skipped = 0;

  const sign = async (s: Signer) =>
    new CompactSign(
      new TextEncoder().encode(JSON.stringify(githubClaims(start.issuer, start.audience))),
    )
      .setProtectedHeader({ alg: "RS256", kid: s.kid, typ: "JWT" })
      .sign(s.key);

  async function attempt(n: number): Promise<void> {
    let kind: AttemptKind = "valid";
    let token: string;
    if (n % 20 === 7 && used.length > 0) {
      kind = "replay";
      token = used[n % used.length]!;
    } else if (n % 20 === 13) {
      kind = "garbage";
      token = `${Buffer.from(`{"alg":"RS256","n":${n}}`).toString("base64url")}.e30.c2ln`;
    } else {
      const useRotated = rotated !== undefined && (n % 100) / 100 < rotatedShare;
      if (useRotated) kind = "rotated";
      token = await sign(useRotated ? rotated! : current);
    }
    const sentAt = Date.now();
    inFlight++;
    try {
      const res = await fetch(`${start.url}/v1/exchange`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token }),
        signal: AbortSignal.timeout(start.timeoutMs),
      });
      const body = (await res.json().catch(() => ({}))) as { reason?: string };
      attempts.push([kind, sentAt, Date.now(), res.status, body.reason ?? ""]);
      if (res.status === 200 && used.length < 1000 && kind !== "replay") used.push(token);
    } catch (err) {
      const hung = (err as Error).name === "TimeoutError";
      attempts.push([
        kind,
        sentAt,
        0,
        0,
        hung ? "hung" : `client error: ${(err as Error).message}`,
      ]);
    } finally {
      inFlight--;
    }
  }

  const begin = Date.now();
  const pending: Promise<void>[] = [];
  for (let n = 0; ; n++) {
    const due = begin + (n * 1000) / start.ratePerSecond;
    if (due >= begin + start.durationMs) break;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (inFlight >= MAX_IN_FLIGHT) skipped++;
    else pending.push(attempt(n));
  }
  await Promise.all(pending);
  return { type: "done", attempts, skipped };
}

process.once("message", (message: ToLoad) => {
  if (message.type !== "start") return;
  run(message).then(
    (done) => process.send?.(done, () => process.exit(0)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
});
