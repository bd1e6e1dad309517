import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Metrics, MetricsExposition } from "./metrics.js";

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The Prometheus side of `Metrics`, on a registry of its own (never the
 * global one, so two servers in one process never share counters).
 */
export function prometheusMetrics(): Metrics & { readonly exposition: MetricsExposition } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const exchanges = new Counter({
    name: "trustpub_exchanges_total",
    help: "Exchange attempts by outcome (success, refused, error) and reason.",
    labelNames: ["outcome", "reason", "endpoint", "issuer", "registry"],
    registers,
  });
  const exchangeSeconds = new Histogram({
    name: "trustpub_exchange_duration_seconds",
    help: "Time from receiving a CI token to answering, per outcome.",
    labelNames: ["outcome", "endpoint"],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const httpRequests = new Counter({
    name: "trustpub_http_requests_total",
    help: "HTTP answers by method, route pattern and status.",
    labelNames: ["method", "route", "status"],
    registers,
  });
  const httpSeconds = new Histogram({
    name: "trustpub_http_request_duration_seconds",
    help: "HTTP request latency by method and route pattern.",
    labelNames: ["method", "route"],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const rateLimited = new Counter({
    name: "trustpub_rate_limit_refusals_total",
    help: "Requests refused with 429 by a rate limit.",
    labelNames: ["route"],
    registers,
  });
  const keyFetches = new Counter({
    name: "trustpub_issuer_key_fetches_total",
    help: "Fetches of CI issuer keys (discovery and JWKS) by issuer and outcome.",
    labelNames: ["issuer", "outcome"],
    registers,
  });
  const storeErrors = new Counter({
    name: "trustpub_replay_store_errors_total",
    help: "Replay store operations that failed or timed out.",
    labelNames: ["operation"],
    registers,
  });
  const audit = new Counter({
    name: "trustpub_audit_webhook_events_total",
    help: "Audit events sent to the webhook: delivered, retried, dropped (queue full or shutdown), failed (gave up).",
    labelNames: ["outcome"],
    registers,
  });
  const auditQueue = new Gauge({
    name: "trustpub_audit_webhook_queue_size",
    help: "Audit events waiting for the webhook.",
    registers,
  });
  const adminChanges = new Counter({
    name: "trustpub_admin_requests_total",
    help: "Admin API actions by outcome.",
    labelNames: ["action", "outcome"],
    registers,
  });
  const reloads = new Counter({
    name: "trustpub_config_reloads_total",
    help: "Config reloads (SIGHUP) by outcome; on error the previous config keeps serving.",
    labelNames: ["outcome"],
    registers,
  });
  const lastReload = new Gauge({
    name: "trustpub_config_last_reload_success_timestamp_seconds",
    help: "When the config in force was loaded.",
    registers,
  });
  const signingKeys = new Gauge({
    name: "trustpub_signing_keys",
    help: "Signing keys published, by status (current, next, retired).",
    labelNames: ["status"],
    registers,
  });
  lastReload.set(Date.now() / 1000);

  return {
    exchange(labels, seconds) {
      exchanges.inc(labels);
      exchangeSeconds.observe({ outcome: labels.outcome, endpoint: labels.endpoint }, seconds);
    },
    httpRequest(method, route, status, seconds) {
      httpRequests.inc({ method, route, status: String(status) });
      httpSeconds.observe({ method, route }, seconds);
    },
    rateLimited: (route) => rateLimited.inc({ route }),
    keyFetch: (issuer, outcome) => keyFetches.inc({ issuer, outcome }),
    storeError: (operation) => storeErrors.inc({ operation }),
    auditDelivery: (outcome) => audit.inc({ outcome }),
    auditQueue: (size) => auditQueue.set(size),
    adminChange: (action, outcome) => adminChanges.inc({ action, outcome }),
    configReload(outcome) {
      reloads.inc({ outcome });
      if (outcome === "ok") lastReload.set(Date.now() / 1000);
    },
    signingKeys(counts) {
      for (const status of ["current", "next", "retired"]) {
        signingKeys.set({ status }, counts[status] ?? 0);
      }
    },
    exposition: { contentType: registry.contentType, text: () => registry.metrics() },
  };
}
