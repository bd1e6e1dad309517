import type { AuditEvent } from "./audit.js";

/** A CloudEvents 1.0 event in the JSON format's structured mode (CloudEvents JSON Event Format, section 3). */
export interface CloudEvent {
  readonly specversion: "1.0";
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time: string;
  readonly subject?: string;
  readonly datacontenttype: "application/json";
  readonly data: AuditEvent;
}

/** `Content-Type` of one event in structured mode (JSON Event Format, section 3.1). */
export const CLOUDEVENTS_JSON = "application/cloudevents+json";

/**
 * Wraps an audit event. `source` is trustpub's issuer URL, `type` the audit
 * event's own type (`trustpub.exchange`, `trustpub.admin`), `subject` the
 * publisher (or registry) it is about, `id` unique per event so a receiver
 * can drop the duplicates that retries may cause.
 */
export function toCloudEvent(event: AuditEvent, source: string): CloudEvent {
  const subject = event.publisher ?? event.publishers?.[0] ?? event.registry;
  return {
    specversion: "1.0",
    id: crypto.randomUUID(),
    source,
    type: event.type,
    time: event.time,
    ...(subject === undefined ? {} : { subject }),
    datacontenttype: "application/json",
    data: event,
  };
}
