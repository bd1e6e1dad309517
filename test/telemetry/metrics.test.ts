import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/load.js";
import { nodeFileSource } from "../../src/config/node-files.js";
import { TrustpubError } from "../../src/errors.js";
import { memoryReplayStore } from "../../src/replay/memory.js";
import { buildServices } from "../../src/services.js";
import { fanOutAudit, memoryAudit } from "../../src/telemetry/audit.js";
import { silentLogger } from "../../src/telemetry/logger.js";
import { metricsAudit } from "../../src/telemetry/metrics.js";
import { prometheusMetrics } from "../../src/telemetry/prometheus.js";
import { githubClaims } from "../support/claims.js";
import { baseConfig, type Harness, NPM_AUDIENCE, startHarness } from "../support/harness.js";
import { startIssuer } from "../support/issuer.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    keyTiming: {
      cooldownMs: 0,
      refreshAfterMs: 600_000,
      maxStaleMs: 86_400_000,
      initialRetryMs: 0,
    },
  });
});
afterAll(async () => {
  await h?.close();
});

const scrape = async () => {
  const res = await fetch(`${h.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
};
const value = (text: string, series: string): number => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
};

describe("GET /metrics", () => {
  it("counts exchanges by outcome and reason, with latency histograms", async () => {
    const ci = await h.githubToken();
    expect((await h.exchange(ci)).status).toBe(200);
    expect((await h.exchange(ci)).status).toBe(409);
    expect((await h.exchange("not-a-token")).status).toBe(401);
    const text = await scrape();
    const labels = (
      outcome: string,
      reason: string,
      issuer = "github",
      registry = "npm-internal",
    ) =>
      `trustpub_exchanges_total{outcome="${outcome}",reason="${reason}",endpoint="native",issuer="${issuer}",registry="${registry}"}`;
    expect(value(text, labels("success", ""))).toBe(1);
    expect(value(text, labels("refused", "replayed_token"))).toBe(1);
    expect(value(text, labels("refused", "malformed_token", "", ""))).toBe(1);
    expect(text).toContain("# TYPE trustpub_exchange_duration_seconds histogram");
    expect(
      value(text, 'trustpub_exchange_duration_seconds_count{outcome="success",endpoint="native"}'),
    ).toBe(1);
    expect(
      value(
        text,
        'trustpub_exchange_duration_seconds_bucket{le="+Inf",outcome="refused",endpoint="native"}',
      ),
    ).toBe(2);
    expect(
      value(
        text,
        'trustpub_http_request_duration_seconds_count{method="POST",route="/v1/exchange"}',
      ),
    ).toBe(3);
    expect(
      value(text, 'trustpub_http_requests_total{method="POST",route="/v1/exchange",status="409"}'),
    ).toBe(1);
    expect(value(text, 'trustpub_issuer_key_fetches_total{issuer="github",outcome="ok"}')).toBe(1);
    expect(text).toContain("process_cpu_user_seconds_total");
  });

  it("labels unknown paths as unmatched, never with the raw path", async () => {
    await fetch(`${h.url}/attacker-chosen-${"x".repeat(40)}`);
    const text = await scrape();
    expect(text).not.toContain("attacker-chosen");
    expect(
      value(text, 'trustpub_http_requests_total{method="GET",route="unmatched",status="404"}'),
    ).toBeGreaterThanOrEqual(1);
  });

  it("counts key fetch failures and replay-store errors", async () => {
    h.github.setDown(true);
    await h.github.addKey();
    const unknownKid = await h.github.sign(githubClaims(h.github.url, NPM_AUDIENCE), {
      kid: "rotated-away",
    });
    expect((await h.exchange(unknownKid)).status).toBe(401);
    h.github.setDown(false);

    await h.redis!.stop();
    try {
      const before = await h.storedKeys().catch(() => 0);
      const res = await h.exchange(await h.githubToken());
      expect(res.status).toBe(503);
      expect(res.body.reason).toBe("unavailable");
      expect(res.body.token).toBeUndefined();
      expect(before).toBe(0);
    } finally {
      await h.redis!.start();
    }
    const text = await scrape();
    expect(value(text, 'trustpub_issuer_key_fetches_total{issuer="github",outcome="error"}')).toBe(
      1,
    );
    expect(value(text, 'trustpub_replay_store_errors_total{operation="claim"}')).toBe(1);
    expect(
      value(
        text,
        'trustpub_exchanges_total{outcome="error",reason="unavailable",endpoint="native",issuer="github",registry="npm-internal"}',
      ),
    ).toBe(1);
  });
});

describe("rate-limit refusals", () => {
  it("counts every 429 answer, whichever limiter refused", async () => {
    const github = await startIssuer();
    const gitlab = await startIssuer({ path: "/gitlab" });
    try {
      const loaded = await loadConfig(
        baseConfig(github, gitlab),
        {},
        nodeFileSource(process.cwd()),
      );
      const metrics = prometheusMetrics();
      const audit = memoryAudit();
      const services = await buildServices(loaded, {
        fetch: (input, init) => fetch(input, init),
        clock: { now: () => Date.now() },
        logger: silentLogger,
        audit: fanOutAudit(audit, metricsAudit(metrics)),
        replay: memoryReplayStore({ now: () => Date.now() }),
        metrics,
        exposition: metrics.exposition,
        guards: {
          afterVerify: async () => {
            throw new TrustpubError("rate_limited", "too many exchanges for this publisher", {
              retryAfter: 2,
            });
          },
        },
      });
      const app = createApp({ services: () => services });
      const token = await github.sign(githubClaims(github.url, NPM_AUDIENCE));
      const res = await app.request("/v1/exchange", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token }),
      });
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBe("2");
      expect(await res.json()).toMatchObject({ reason: "rate_limited" });
      const text = await (await app.request("/metrics")).text();
      expect(value(text, 'trustpub_rate_limit_refusals_total{route="/v1/exchange"}')).toBe(1);
      expect(
        value(
          text,
          'trustpub_exchanges_total{outcome="refused",reason="rate_limited",endpoint="native",issuer="github",registry="npm-internal"}',
        ),
      ).toBe(1);
      expect(audit.events.map((e) => e.reason)).toEqual(["rate_limited"]);
    } finally {
      await Promise.all([github.stop(), gitlab.stop()]);
    }
  });
});
