import type { FetchFn } from "../issuers/fetch.js";
import type { AuditSink } from "./audit.js";
import { CLOUDEVENTS_JSON, type CloudEvent, toCloudEvent } from "./cloudevents.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

export interface WebhookOptions {
  readonly url: string;
  /** CloudEvents `source`: trustpub's issuer URL. */
  readonly source: string;
  readonly fetch: FetchFn;
  readonly logger: Logger;
  readonly metrics: Pick<Metrics, "auditDelivery" | "auditQueue">;
  /** Sent as `Authorization: Bearer` when set. */
  readonly bearerToken?: string | undefined;
  /** Events waiting beyond this are dropped (and counted), never buffered without bound. */
  readonly queueSize: number;
  /** Attempts per event, the first included. */
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  /** First retry delay; doubles per attempt up to `maxBackoffMs`. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

export interface WebhookSink extends AuditSink {
  /** Events queued or in flight. */
  pending(): number;
  /**
   * Stops accepting events and tries to deliver what is queued until the
   * deadline; whatever is left then is dropped and counted.
   */
  close(timeoutMs: number): Promise<void>;
}

class Retryable extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * Audit events POSTed one by one, in order, as CloudEvents 1.0 JSON
 * (structured mode) to a webhook. `emit` only enqueues: an exchange never
 * waits for the webhook. A bounded queue holds what the webhook has not
 * taken yet; when it is full new events are dropped and counted in
 * `trustpub_audit_webhook_events_total{outcome="dropped"}` (stdout still
 * has them). Network errors, timeouts, 408, 429 and 5xx are retried with
 * exponential backoff (honouring `Retry-After`); other answers are final.
 */
export function cloudEventsWebhook(options: WebhookOptions): WebhookSink {
  const queue: CloudEvent[] = [];
  let inFlight = 0;
  let running: Promise<void> | undefined;
  let closed = false;
  let abandon = false;
  let droppedSinceWarning = 0;
  const wakers = new Set<() => void>();

  const headers: Record<string, string> = { "content-type": CLOUDEVENTS_JSON };
  if (options.bearerToken) headers.authorization = `Bearer ${options.bearerToken}`;

  const report = () => options.metrics.auditQueue(queue.length + inFlight);

  const drop = (count: number, why: string) => {
    for (let i = 0; i < count; i++) options.metrics.auditDelivery("dropped");
    droppedSinceWarning += count;
    if (droppedSinceWarning === count) {
      options.logger.warn({ dropped: count, why }, "audit webhook: events dropped");
    }
  };

  async function post(event: CloudEvent): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeoutMs);
    let response: Response;
    try {
      response = await options.fetch(options.url, {
        method: "POST",
        headers,
        body: JSON.stringify(event),
        redirect: "error",
        signal: controller.signal,
      });
      await response.body?.cancel().catch(() => {});
    } catch (err) {
      throw new Retryable(
        controller.signal.aborted ? "timed out" : `request failed: ${(err as Error).message}`,
      );
    } finally {
      clearTimeout(timer);
    }
    if (response.ok) return;
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      const after = Number(response.headers.get("retry-after"));
      throw new Retryable(
        `answered ${response.status}`,
        Number.isFinite(after) && after > 0 ? after * 1000 : undefined,
      );
    }
    throw new Error(`answered ${response.status}`);
  }

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref?.();
      wakers.add(wake);
    });

  async function deliver(event: CloudEvent): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await post(event);
        options.metrics.auditDelivery("delivered");
        droppedSinceWarning = 0;
        return;
      } catch (err) {
        const retryable = err instanceof Retryable;
        if (!retryable || attempt >= options.maxAttempts || abandon) {
          options.metrics.auditDelivery("failed");
          options.logger.warn(
            { event: event.id, type: event.type, attempts: attempt, err: (err as Error).message },
            "audit webhook: giving up on an event",
          );
          return;
        }
        options.metrics.auditDelivery("retried");
        const backoff = Math.min(options.backoffMs * 2 ** (attempt - 1), options.maxBackoffMs);
        await pause(Math.min(Math.max(backoff, err.retryAfterMs ?? 0), options.maxBackoffMs));
        if (abandon) {
          options.metrics.auditDelivery("dropped");
          return;
        }
      }
    }
  }

  async function pump(): Promise<void> {
    while (queue.length > 0 && !abandon) {
      const event = queue.shift()!;
      inFlight = 1;
      try {
        await deliver(event);
      } finally {
        inFlight = 0;
        report();
      }
    }
  }

  const kick = () => {
    running ??= pump().finally(() => {
      running = undefined;
      if (queue.length > 0 && !abandon) kick();
    });
  };

  return {
    emit(event) {
      if (closed) {
        drop(1, "shutting down");
        return;
      }
      if (queue.length >= options.queueSize) {
        drop(1, "queue full");
        return;
      }
      queue.push(toCloudEvent(event, options.source));
      report();
      kick();
    },
    pending: () => queue.length + inFlight,
    async close(timeoutMs) {
      closed = true;
      const idle = running ?? Promise.resolve();
      const deadline = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        timer.unref?.();
        idle.finally(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await deadline;
      abandon = true;
      for (const wake of [...wakers]) wake();
      if (queue.length > 0) drop(queue.splice(0).length, "shutting down");
      report();
    },
  };
}
