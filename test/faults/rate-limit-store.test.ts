import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jtiKey } from "../../src/replay/store.js";
import { type Harness, type HttpAnswer, startHarness } from "../support/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    configure: (c) => {
      c.rate_limits = {
        ...(c.rate_limits as object),
        per_client: "4/m",
        trusted_proxies: ["127.0.0.1"],
      };
    },
  });
});
afterAll(async () => h?.close());

async function timed(send: () => Promise<HttpAnswer>): Promise<[HttpAnswer, number]> {
  const started = performance.now();
  const res = await send();
  return [res, performance.now() - started];
}

/** From its own client address, through a trusted proxy: each test gets a fresh per-client budget. */
function exchangeAs(client: string, token: string): Promise<HttpAnswer> {
  return h.post("/v1/exchange", { token }, { "x-forwarded-for": client });
}

async function waitUntil(check: (i: number) => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check(i)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting until ${what}`);
}

function claims(token: string): { iss: string; jti: string } {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8"));
}

describe("the rate limiter's store fails", () => {
  it("Redis stopped: exchanges answer 503 at once, never 429 or a token, and per-client limits hold per replica", async () => {
    const redis = h.redis!;
    await redis.stop();
    const tokens = await Promise.all(Array.from({ length: 5 }, () => h.githubToken()));
    try {
      const answers: HttpAnswer[] = [];
      for (const token of tokens.slice(0, 4)) {
        const [res, ms] = await timed(() => exchangeAs("192.0.2.1", token));
        expect(res.status).toBe(503);
        expect(res.body.reason).toBe("unavailable");
        expect(res.body.token).toBeUndefined();
        expect(res.headers.get("retry-after")).toBe("1");
        expect(ms).toBeLessThan(2000);
        answers.push(res);
      }
      // The fifth from the same client meets the limit this replica enforces on its own.
      const limited = await exchangeAs("192.0.2.1", tokens[4]!);
      expect(limited.status).toBe(429);
      expect(limited.body.reason).toBe("rate_limited");
      expect(limited.body.token).toBeUndefined();
    } finally {
      await redis.start();
    }
    // Nothing of the refused attempts was recorded: Redis came back empty and no token was claimed.
    expect(await h.storedKeys()).toBe(0);
    for (const token of tokens) {
      const { iss, jti } = claims(token);
      expect(await redis.client().exists(await jtiKey("trustpub:", iss, jti))).toBe(0);
    }
  });

  it("Redis paused: 503 within the command timeout plus the limiter's budget, then recovery without a restart", async () => {
    const redis = h.redis!;
    await waitUntil(
      async (i) => (await exchangeAs(`198.51.100.${i}`, await h.githubToken())).status === 200,
      "Redis answers again",
    );
    const before = await h.storedKeys();
    redis.pause();
    let paused: [HttpAnswer, number];
    try {
      const token = await h.githubToken();
      paused = await timed(() => exchangeAs("192.0.2.2", token));
    } finally {
      redis.resume();
    }
    const [res, ms] = paused;
    expect(res.status).toBe(503);
    expect(res.body.reason).toBe("unavailable");
    expect(res.body.token).toBeUndefined();
    // 500 ms command timeout for the claim, at most 250 ms for the limiter, and slack for a busy machine.
    expect(ms).toBeLessThan(3000);
    // The limiter wrote nothing. The claim sent before the timeout may still land when Redis
    // resumes (a command cannot be taken back), which burns that CI token: it fails closed.
    expect(await h.storedKeys()).toBeLessThanOrEqual(before + 1);

    // Back: exchanges succeed, and limits are shared through Redis again.
    await waitUntil(
      async (i) => (await exchangeAs(`203.0.113.${i}`, await h.githubToken())).status === 200,
      "exchanges succeed",
    );
    await waitUntil(async (i) => {
      await exchangeAs(`192.0.2.${100 + i}`, "not-a-token");
      return (await redis.client().keys(`trustpub:rl:{client:192.0.2.${100 + i}}:*`)).length > 0;
    }, "the limiter writes to Redis again");
  });
});
