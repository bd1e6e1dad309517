import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { type RunningServer, startServer } from "../../src/server.js";
import { silentLogger } from "../../src/telemetry/logger.js";
import { baseConfig, type Harness, type HttpAnswer, startHarness } from "../support/harness.js";
import type { TestIssuer } from "../support/issuer.js";

const FLOOD = fileURLToPath(new URL("../support/flood.mjs", import.meta.url));
const run = promisify(execFile);

function limits(config: Record<string, unknown>, rateLimits: Record<string, unknown>) {
  config.rate_limits = { ...(config.rate_limits as object), ...rateLimits };
}

/** A refusal: the status and reason, no token, and nothing written to the replay store. */
async function expectRateLimited(h: Harness, send: () => Promise<HttpAnswer>) {
  const before = await h.storedKeys();
  const res = await send();
  expect(res.status).toBe(429);
  expect(res.body.reason).toBe("rate_limited");
  expect(res.body.token).toBeUndefined();
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(await h.storedKeys()).toBe(before);
  return res;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timedExchanges(h: Harness, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const token = await h.githubToken();
    const started = performance.now();
    const res = await h.exchange(token);
    latencies.push(performance.now() - started);
    expect(res.status).toBe(200);
    expect(typeof res.body.token).toBe("string");
  }
  return latencies;
}

describe("case 37: a flood of garbage from one client", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ configure: (c) => limits(c, { per_client: "50/s" }) });
  });
  afterAll(async () => h?.close());

  it("gets 429 for that client while other publishers still exchange at unchanged latency", async () => {
    await timedExchanges(h, 5); // warm: keys fetched, code paths compiled
    const baseline = await timedExchanges(h, 20);
    const storedBefore = await h.storedKeys();

    const flood = run(
      process.execPath,
      [FLOOD, `${h.url}/v1/exchange`, "127.0.0.2", "4000", "200"],
      {
        timeout: 30_000,
      },
    );
    await new Promise((r) => setTimeout(r, 500));
    const during = await timedExchanges(h, 20);
    const { stdout } = await flood;
    const result = JSON.parse(stdout) as {
      statuses: Record<string, number>;
      errors: number;
      skipped: number;
    };

    console.info(`case 37: flood ${JSON.stringify(result)}`);
    // The flood is refused almost entirely, and what got through was garbage (400/401).
    const refused = result.statuses["429"] ?? 0;
    const passed = Object.entries(result.statuses)
      .filter(([status]) => status !== "429")
      .reduce((sum, [, n]) => sum + n, 0);
    expect(result.errors).toBe(0);
    expect(refused).toBeGreaterThan(150);
    expect(passed).toBeLessThanOrEqual(50 * 5 + 50);
    expect(
      Object.keys(result.statuses).every((s) => ["400", "401", "413", "429"].includes(s)),
    ).toBe(true);

    // The legitimate publisher exchanged every time, and not measurably slower. The bound is
    // loose on purpose: the flood shares two CPU cores with trustpub and this test.
    const [before, flooded] = [median(baseline), median(during)];
    console.info(
      `case 37: median exchange ${before.toFixed(1)} ms before, ${flooded.toFixed(1)} ms during a flood of ${refused} refused requests`,
    );
    expect(flooded).toBeLessThan(Math.max(before * 5, before + 250));
    // 40 tokens were issued, each one JTI; the flood wrote nothing.
    expect((await h.storedKeys()) - storedBefore).toBe(20);
  });
});

describe("per-client limits", () => {
  it("answer 429 with Retry-After before the body is read, in the native shape", async () => {
    const h = await startHarness({ configure: (c) => limits(c, { per_client: "3/m" }) });
    try {
      for (let i = 0; i < 3; i++) {
        expect((await postFrom("127.0.0.3", h.url, "/v1/exchange", "{not json")).status).toBe(400);
      }
      const res = await expectRateLimited(h, () =>
        postFrom("127.0.0.3", h.url, "/v1/exchange", "{not json"),
      );
      expect(res.body).toMatchObject({ error: "temporarily_unavailable", reason: "rate_limited" });
      expect(res.headers.get("cache-control")).toBe("no-store");
      // RFC 8693 callers are limited the same way; other clients are not.
      expect((await postFrom("127.0.0.3", h.url, "/token", "grant_type=x")).status).toBe(429);
      expect((await postFrom("127.0.0.4", h.url, "/v1/exchange", "{not json")).status).toBe(400);
      // Endpoints that are not exchanges are not limited per client.
      for (let i = 0; i < 5; i++) expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});

describe("per-publisher limits", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ configure: (c) => limits(c, { per_publisher: "3/m" }) });
  });
  afterAll(async () => h?.close());

  it("refuse a publisher over its rate without burning the token, which works after Retry-After", async () => {
    for (let i = 0; i < 3; i++) expect((await h.exchange(await h.githubToken())).status).toBe(200);
    const ci = await h.githubToken();
    const res = await expectRateLimited(h, () => h.exchange(ci));
    expect(res.body.error_description).toBe("too many exchanges for this publisher");
    const wait = Number(res.headers.get("retry-after"));
    expect(wait).toBeGreaterThan(1);
    expect(wait).toBeLessThanOrEqual(120);
    const event = h.audit.events.at(-1)!;
    expect([event.outcome, event.reason]).toEqual(["refused", "rate_limited"]);
    // Another publisher has its own budget.
    expect((await h.exchange(await h.gitlabToken())).status).toBe(200);

    h.clock.offsetMs += wait * 1000;
    expect((await h.exchange(ci)).status).toBe(200);
  });
});

describe("issuer and publisher limits together", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      configure: (c) => limits(c, { per_issuer: "1000/m", per_publisher: "1/m" }),
    });
  });
  afterAll(async () => h?.close());

  it("are taken all or nothing: exchanges a publisher limit refuses spend none of the issuer's budget", async () => {
    const issuerCount = async () => {
      const keys = await h.redis!.client().keys("trustpub:rl:{issuer:github}:[0-9]*");
      const values = await Promise.all(keys.map((k) => h.redis!.client().get(k)));
      return values.reduce((n, v) => n + Number(v), 0);
    };
    // The limiter's connection comes up in the background: wait until it counts in Redis.
    for (let i = 0; i < 100; i++) {
      if ((await h.redis!.client().keys("trustpub:rl:{client:*")).length > 0) break;
      await h.post("/v1/exchange", {});
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await h.exchange(await h.githubToken())).status).toBe(200);
    expect(await issuerCount()).toBe(1);
    for (let i = 0; i < 3; i++) {
      const res = await expectRateLimited(h, async () => h.exchange(await h.githubToken()));
      expect(res.body.error_description).toBe("too many exchanges for this publisher");
    }
    expect(await issuerCount()).toBe(1);
    // The publisher's counter shares the issuer's hash slot (one script, one round trip).
    expect(await h.redis!.client().keys("trustpub:rl:{issuer:github}:publisher:*")).not.toEqual([]);
  });
});

describe("per-issuer limits", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ configure: (c) => limits(c, { per_issuer: "2/m" }) });
  });
  afterAll(async () => h?.close());

  it("refuse an issuer over its rate, while another issuer keeps its own budget", async () => {
    for (let i = 0; i < 2; i++) expect((await h.exchange(await h.githubToken())).status).toBe(200);
    const res = await expectRateLimited(h, async () => h.exchange(await h.githubToken()));
    expect(res.body.error_description).toBe("too many exchanges for this CI issuer");
    expect((await h.exchange(await h.gitlabToken())).status).toBe(200);
  });
});

describe("X-Forwarded-For", () => {
  it("is believed only from trusted proxies, and only its right-most untrusted hop", async () => {
    const h = await startHarness({
      configure: (c) => limits(c, { per_client: "2/m", trusted_proxies: ["127.0.0.1/32", "::1"] }),
    });
    try {
      const from = (xff: string) => h.post("/v1/exchange", {}, { "x-forwarded-for": xff });
      expect((await from("203.0.113.7")).status).toBe(400);
      expect((await from("198.51.100.1, 203.0.113.7")).status).toBe(400);
      // Forging a left-most entry does not make another client.
      await expectRateLimited(h, () => from("192.0.2.99, 203.0.113.7"));
      // Another client behind the same proxy has its own budget.
      expect((await from("203.0.113.8")).status).toBe(400);
      // The audit records the client the proxy vouched for.
      expect((await h.exchange(await h.githubToken())).status).toBe(200);
      expect(h.audit.events.at(-1)!.client).toBe("127.0.0.1");
    } finally {
      await h.close();
    }
  });

  it("is ignored from a peer that is not a trusted proxy", async () => {
    const h = await startHarness({ configure: (c) => limits(c, { per_client: "2/m" }) });
    try {
      const from = (xff: string) => h.post("/v1/exchange", {}, { "x-forwarded-for": xff });
      expect((await from("203.0.113.1")).status).toBe(400);
      expect((await from("203.0.113.2")).status).toBe(400);
      await expectRateLimited(h, () => from("203.0.113.3"));
    } finally {
      await h.close();
    }
  });

  it("refuses a trusted_proxies entry that is not an address or CIDR at load", async () => {
    const config = baseConfig(
      { url: "https://token.actions.githubusercontent.com" } as TestIssuer,
      { url: "https://gitlab.com" } as TestIssuer,
    );
    limits(config, { trusted_proxies: ["10.0.0.0/8", "10.1/16"] });
    (config.ci_issuers as Record<string, Record<string, unknown>>).github!.allow_http = false;
    (config.ci_issuers as Record<string, Record<string, unknown>>).gitlab!.allow_http = false;
    await expect(
      loadConfig(config, {}, { readText: () => Promise.reject(new Error("none")) }),
    ).rejects.toThrow(
      /rate_limits\.trusted_proxies\[1\]: expected an IPv4 or IPv6 address or CIDR/,
    );
  });
});

describe("limits across replicas", () => {
  let h: Harness;
  let second: RunningServer;
  beforeAll(async () => {
    h = await startHarness({ configure: (c) => limits(c, { per_publisher: "4/m" }) });
    second = await startServer({
      config: h.config,
      env: {},
      port: 0,
      host: "127.0.0.1",
      clock: h.clock,
      logger: silentLogger,
      audit: { emit() {} },
    });
    // Its limiter connects to Redis in the background; until then it would decide locally.
    await new Promise((r) => setTimeout(r, 500));
  });
  afterAll(async () => {
    await second?.shutdown();
    await h?.close();
  });

  it("hold through Redis: two replicas together issue no more than the publisher's rate", async () => {
    const tokens = await Promise.all(Array.from({ length: 12 }, () => h.githubToken()));
    const statuses = await Promise.all(
      tokens.map(async (token, i) => {
        const url = i % 2 ? second.url : h.url;
        const res = await fetch(`${url}/v1/exchange`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token }),
        });
        return res.status;
      }),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.filter((s) => s === 429)).toHaveLength(8);
  });
});

describe("without Redis", () => {
  it("limits in memory", async () => {
    const h = await startHarness({
      redis: false,
      configure: (c) => limits(c, { per_publisher: "1/h" }),
    });
    try {
      expect((await h.exchange(await h.githubToken())).status).toBe(200);
      await expectRateLimited(h, async () => h.exchange(await h.githubToken()));
    } finally {
      await h.close();
    }
  });

  it("can be turned off", async () => {
    const h = await startHarness({
      redis: false,
      configure: (c) => limits(c, { enabled: false, per_publisher: "1/h", per_client: "1/h" }),
    });
    try {
      for (let i = 0; i < 3; i++)
        expect((await h.exchange(await h.githubToken())).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});

/** A POST from a chosen loopback address (127.0.0.2 and up are loopback on Linux). */
async function postFrom(
  localAddress: string,
  base: string,
  path: string,
  body: string,
): Promise<HttpAnswer> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { method: "POST", localAddress, headers: { "content-type": "application/json" } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text);
          } catch {}
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers))
            if (typeof v === "string") headers.set(k, v);
          resolve({ status: res.statusCode ?? 0, headers, body: parsed, text });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
