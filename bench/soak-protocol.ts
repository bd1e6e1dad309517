import type { JWK } from "jose";

/** What the soak tells its load process, over the fork's IPC channel. */
export type ToLoad =
  | {
      readonly type: "start";
      readonly url: string;
      readonly issuer: string;
      readonly audience: string;
      readonly key: { readonly kid: string; readonly jwk: JWK };
      readonly ratePerSecond: number;
      readonly durationMs: number;
      readonly timeoutMs: number;
    }
  /** From now on, sign this share of the valid tokens with another key (a rotation at the issuer). */
  | {
      readonly type: "rotate";
      readonly key: { readonly kid: string; readonly jwk: JWK };
      readonly share: number;
    };

/** One exchange attempt: [kind, sent at, answered at (0 if never), status (0 on error), reason]. */
export type Attempt = [
  kind: AttemptKind,
  sentAt: number,
  answeredAt: number,
  status: number,
  reason: string,
];

/** valid: a fresh token; rotated: a fresh token signed with the new key; replay: a used one; garbage. */
export type AttemptKind = "valid" | "rotated" | "replay" | "garbage";

export type FromLoad = {
  readonly type: "done";
  readonly attempts: Attempt[];
  readonly skipped: number;
};
