import type { Logger } from "./logger.js";

export type Env = Readonly<Record<string, string | undefined>>;

export interface TelemetrySdk {
  /** Flushes what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * True when the standard variables ask for OTLP traces: an OTLP endpoint
 * (for all signals or for traces), or an explicit `OTEL_TRACES_EXPORTER`
 * other than `none`; and the SDK is not disabled.
 */
export function otelRequested(env: Env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter === "none") return false;
  return Boolean(
    env.OTEL_EXPORTER_OTLP_ENDPOINT ||
      env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ||
      (exporter !== undefined && exporter !== ""),
  );
}

/**
 * Starts the OpenTelemetry Node SDK, which reads the `OTEL_*` variables
 * itself (endpoint, protocol, headers, sampler, resource attributes), when
 * `otelRequested`; otherwise nothing is loaded and trustpub's spans stay
 * no-ops. The SDK is imported only then, so it costs nothing when unused.
 */
export async function startTelemetrySdk(
  env: Env,
  logger: Logger,
): Promise<TelemetrySdk | undefined> {
  if (!otelRequested(env)) return undefined;
  const { NodeSDK } = await import("@opentelemetry/sdk-node");
  const sdk = new NodeSDK({
    ...(env.OTEL_SERVICE_NAME ? {} : { serviceName: "trustpub" }),
    instrumentations: [],
  });
  sdk.start();
  logger.info(
    {
      endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT,
      protocol: env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf",
    },
    "OpenTelemetry SDK started",
  );
  return {
    shutdown: () =>
      sdk.shutdown().catch((err: unknown) => {
        logger.warn({ err: (err as Error).message }, "OpenTelemetry SDK shutdown failed");
      }),
  };
}
