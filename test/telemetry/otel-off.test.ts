import { trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { otelRequested } from "../../src/telemetry/otel-sdk.js";
import { startHarness } from "../support/harness.js";

describe("OpenTelemetry without OTEL_* variables", () => {
  it("decides from the standard variables only", () => {
    expect(otelRequested({})).toBe(false);
    expect(otelRequested({ OTEL_SERVICE_NAME: "trustpub" })).toBe(false);
    expect(otelRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toBe(true);
    expect(
      otelRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" }),
    ).toBe(true);
    expect(otelRequested({ OTEL_TRACES_EXPORTER: "otlp" })).toBe(true);
    expect(
      otelRequested({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }),
    ).toBe(false);
    expect(
      otelRequested({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }),
    ).toBe(false);
  });

  it("starts no SDK: spans stay non-recording and exchanges work", async () => {
    const h = await startHarness({ redis: false });
    try {
      expect((await h.exchange(await h.githubToken())).status).toBe(200);
      const span = trace.getTracer("probe").startSpan("probe");
      expect(span.isRecording()).toBe(false);
      span.end();
      expect(h.logs.records.some((r) => r.msg === "OpenTelemetry SDK started")).toBe(false);
    } finally {
      await h.close();
    }
  });
});
