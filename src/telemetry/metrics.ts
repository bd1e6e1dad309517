import type { KeyFetchObserver } from "../issuers/key-set.js";
import type { StoreErrorObserver } from "../replay/redis.js";
import type { AuditEvent, AuditSink } from "./audit.js";

/** What happened to one audit event on its way to the webhook. */
export type AuditDelivery = "delivered" | "retried" | "dropped" | "failed";

/**
 * Everything trustpub counts, as one small interface: the core and the
 * adapters call it, and only the Node entry knows it is Prometheus
 * (prom-client) behind it. Label values are always bounded: reasons,
 * endpoints and route patterns are fixed lists; issuer and registry ids come
 * from the config, never from a request.
 */
export interface Metrics extends KeyFetchObserver, StoreErrorObserver {
  /** One finished exchange attempt, from its audit event. */
  exchange(
    labels: {
      outcome: string;
      reason: string;
      endpoint: string;
      issuer: string;
      registry: string;
    },
    seconds: number,
  ): void;
  /** One HTTP answer: `route` is the matched pattern (`/v1/admin/publishers/:id`), never the raw path. */
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  /** A 429 answer, whichever limiter refused. */
  rateLimited(route: string): void;
  auditDelivery(outcome: AuditDelivery): void;
  auditQueue(size: number): void;
  adminChange(action: string, outcome: string): void;
  configReload(outcome: "ok" | "error"): void;
  signingKeys(counts: Readonly<Record<string, number>>): void;
}

/** The text a scraper reads at `GET /metrics`. */
export interface MetricsExposition {
  readonly contentType: string;
  text(): Promise<string>;
}

/**
 * Exchange counters and latencies derived from the audit stream, so every
 * attempt is counted exactly once, by the same event that records it.
 */
export function metricsAudit(metrics: Metrics): AuditSink {
  return {
    emit(event: AuditEvent) {
      if (event.type === "trustpub.exchange") {
        metrics.exchange(
          {
            outcome: event.outcome,
            reason: event.reason ?? "",
            endpoint: event.endpoint,
            issuer: event.ci?.issuer ?? "",
            registry: event.registry ?? "",
          },
          (event.duration_ms ?? 0) / 1000,
        );
      } else if (event.type === "trustpub.admin") {
        metrics.adminChange(event.action ?? "unknown", event.outcome);
      }
    },
  };
}
