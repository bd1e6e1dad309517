import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from "@opentelemetry/api";
import { Hono, type MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { TrustpubError } from "../errors.js";
import { tracer } from "../telemetry/tracing.js";
import type { AppEnv } from "./env.js";

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => {
    const keys: string[] = [];
    headers.forEach((_, key) => {
      keys.push(key);
    });
    return keys;
  },
  get: (headers, key) => headers.get(key) ?? undefined,
};

/** The matched route pattern, or `unmatched`: never the raw path, so labels stay bounded. */
function routeOf(c: Parameters<MiddlewareHandler<AppEnv>>[0]): string {
  const route = routePath(c);
  return !route || route.includes("*") ? "unmatched" : route;
}

/**
 * A server span per request, named `METHOD /route` (continuing a caller's
 * `traceparent`), and the HTTP latency and status metrics. Only
 * `@opentelemetry/api`: without an SDK the span is a no-op.
 */
export function httpTelemetry(): MiddlewareHandler<AppEnv> {
  return async function httpTelemetry(c, next) {
    const started = performance.now();
    const parent = propagation.extract(context.active(), c.req.raw.headers, headerGetter);
    const span = tracer.startSpan(
      c.req.method,
      { kind: SpanKind.SERVER, attributes: { "http.request.method": c.req.method } },
      parent,
    );
    try {
      await context.with(trace.setSpan(parent, span), next);
    } finally {
      const route = routeOf(c);
      const status = c.res.status;
      span.updateName(`${c.req.method} ${route}`);
      span.setAttribute("http.route", route);
      span.setAttribute("http.response.status_code", status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      const metrics = c.get("services")?.runtime.metrics;
      metrics?.httpRequest(c.req.method, route, status, (performance.now() - started) / 1000);
      if (status === 429) metrics?.rateLimited(route);
    }
  };
}

/** `GET /metrics`: Prometheus text exposition format. */
export function metricsRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/metrics", async (c) => {
    const exposition = c.get("services").runtime.exposition;
    if (!exposition) throw new TrustpubError("not_found", "metrics are not enabled");
    const text = await exposition.text();
    return c.body(text, 200, { "content-type": exposition.contentType });
  });
  return app;
}
