import { trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { startHarness } from "../support/harness.js";
import { startWebhookReceiver } from "../support/webhook.js";

interface OtlpAttribute {
  key: string;
  value: {
    stringValue?: string;
    intValue?: string | number;
    arrayValue?: { values: { stringValue?: string }[] };
  };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
}

const attributes = (span: OtlpSpan): Record<string, unknown> =>
  Object.fromEntries(
    span.attributes.map((a) => [
      a.key,
      a.value.arrayValue
        ? a.value.arrayValue.values.map((v) => v.stringValue)
        : (a.value.stringValue ?? Number(a.value.intValue)),
    ]),
  );

describe("OpenTelemetry", () => {
  it("exports a span per exchange with a child per step over OTLP when OTEL_* is set", async () => {
    const collector = await startWebhookReceiver();
    const endpoint = collector.url.replace(/\/audit$/, "");
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "50",
      OTEL_METRICS_EXPORTER: "none",
      OTEL_LOGS_EXPORTER: "none",
    };
    Object.assign(process.env, env);
    const h = await startHarness({ env });
    const ci = await h.githubToken();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const ok = await h.request("/v1/exchange", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
      body: JSON.stringify({ token: ci }),
    });
    expect(ok.status).toBe(200);
    const replay = await h.exchange(ci);
    expect(replay.status).toBe(409);
    await h.close();

    try {
      const posts = collector.received.filter((r) => r.path === "/v1/traces");
      expect(posts.length).toBeGreaterThan(0);
      const resources = posts.flatMap((p) => p.body.resourceSpans as Record<string, unknown>[]);
      const spans = resources.flatMap((r) =>
        (r.scopeSpans as { spans: OtlpSpan[] }[]).flatMap((s) => s.spans),
      );
      const serviceNames = resources.flatMap((r) =>
        ((r.resource as { attributes: OtlpAttribute[] }).attributes ?? [])
          .filter((a) => a.key === "service.name")
          .map((a) => a.value.stringValue),
      );
      expect(new Set(serviceNames)).toEqual(new Set(["trustpub"]));

      const server = spans.filter((s) => s.name === "POST /v1/exchange");
      expect(server).toHaveLength(2);
      const first = server.find((s) => s.traceId === traceId)!;
      expect(first.parentSpanId).toBe("00f067aa0ba902b7");
      expect(attributes(first)).toMatchObject({
        "http.route": "/v1/exchange",
        "http.response.status_code": 200,
      });

      const exchanges = spans.filter((s) => s.name === "exchange");
      expect(exchanges).toHaveLength(2);
      const success = exchanges.find((s) => s.traceId === traceId)!;
      expect(success.parentSpanId).toBe(first.spanId);
      expect(attributes(success)).toMatchObject({
        "trustpub.endpoint": "native",
        "trustpub.outcome": "success",
        "trustpub.issuer": "github",
        "trustpub.registry": "npm-internal",
        "trustpub.publisher": "acme-demo-release",
        "trustpub.publishers": ["acme-demo-release"],
      });
      const steps = spans.filter((s) => s.parentSpanId === success.spanId).map((s) => s.name);
      expect(steps).toEqual(["verify", "policy", "replay_claim", "mint"]);

      const refused = exchanges.find((s) => s !== success)!;
      expect(attributes(refused)).toMatchObject({
        "trustpub.outcome": "refused",
        "trustpub.reason": "replayed_token",
      });
      const refusedSteps = spans
        .filter((s) => s.parentSpanId === refused.spanId)
        .map((s) => s.name);
      expect(refusedSteps).toEqual(["verify", "policy", "replay_claim"]);

      const exported = JSON.stringify(posts.map((p) => p.body));
      expect(exported).not.toContain(ci);
      expect(exported).not.toContain(ok.body.token as string);
      expect(exported).not.toContain(ci.split(".")[2]!);
    } finally {
      await collector.stop();
      for (const key of Object.keys(env)) delete process.env[key];
      trace.disable();
    }
  });
});
