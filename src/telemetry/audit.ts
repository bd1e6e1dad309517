/**
 * One structured event per exchange attempt and per admin action.
 * Never a whole token: CI and issued tokens appear only as their SHA-256.
 */
export interface AuditEvent {
  readonly type: string;
  readonly time: string;
  readonly outcome: "success" | "refused" | "error";
  readonly reason?: string | undefined;
  readonly endpoint: string;
  readonly client?: string | undefined;
  readonly registry?: string | undefined;
  readonly publishers?: readonly string[] | undefined;
  readonly ci?: Readonly<Record<string, string | undefined>> | undefined;
  readonly ci_token_sha256?: string | undefined;
  readonly issued?:
    | { readonly jti: string; readonly sha256: string; readonly exp: number }
    | undefined;
  readonly duration_ms?: number | undefined;
  /** Admin events (`trustpub.admin`): what was done (put, delete, explain, authenticate). */
  readonly action?: string | undefined;
  /** Admin events: the publisher id acted on. */
  readonly publisher?: string | undefined;
  /** Admin events: which admin token, as the first 12 hex digits of its SHA-256. */
  readonly actor?: string | undefined;
  /** Admin events: `created` or `replaced` for a put. */
  readonly change?: string | undefined;
  /** Admin events: why a change was refused, one problem per entry (paths, never secrets). */
  readonly problems?: readonly string[] | undefined;
}

export interface AuditSink {
  emit(event: AuditEvent): void;
}

/** JSON lines through a writer (stdout in the Node entry). */
export function jsonLinesAudit(write: (line: string) => void): AuditSink {
  return { emit: (event) => write(`${JSON.stringify({ audit: true, ...event })}\n`) };
}

/** Sends each event to every sink; one failing sink never stops the others. */
export function fanOutAudit(...sinks: AuditSink[]): AuditSink {
  return {
    emit(event) {
      for (const sink of sinks) {
        try {
          sink.emit(event);
        } catch {
          // An audit sink must never break an exchange.
        }
      }
    },
  };
}

export function memoryAudit(): AuditSink & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { events, emit: (event) => events.push(event) };
}
