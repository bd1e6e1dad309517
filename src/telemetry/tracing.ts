import { type Span, SpanStatusCode, trace } from "@opentelemetry/api";

/** trustpub's tracer; a no-op until the entry starts an OpenTelemetry SDK. */
export const tracer = trace.getTracer("trustpub");

/** Runs `fn` in a child span named `name`; records failures without their messages' secrets. */
export async function inSpan<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      const reason = (err as { reason?: unknown }).reason;
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: typeof reason === "string" ? reason : "error",
      });
      if (typeof reason === "string") span.setAttribute("trustpub.reason", reason);
      throw err;
    } finally {
      span.end();
    }
  });
}
