import type { ParsedConfig, RegistryConfig } from "../config/schema.js";
import type { IssuerDirectory, TrustedIssuer } from "../issuers/directory.js";
import type { Clock } from "../lib/clock.js";
import type { Permission } from "../policy/packages.js";
import type { PublisherStore } from "../policy/store.js";
import type { ReplayStore } from "../replay/store.js";
import type { AuditSink } from "../telemetry/audit.js";
import type { Logger } from "../telemetry/logger.js";
import type { SigningKeyRing } from "../tokens/keys.js";

/** Hooks that refuse an exchange after verification (rate limits per issuer and publisher). */
export interface ExchangeGuards {
  afterVerify(issuer: TrustedIssuer, publishers: readonly string[]): Promise<void>;
}

/** Everything the exchange use case needs; nothing here reads env or touches Node APIs. */
export interface ExchangeDeps {
  readonly config: ParsedConfig;
  readonly directory: IssuerDirectory;
  readonly publishers: PublisherStore;
  readonly replay: ReplayStore;
  /** A getter: a reload swaps the key ring without rebuilding the app. */
  readonly keys: () => SigningKeyRing;
  readonly clock: Clock;
  readonly audit: AuditSink;
  readonly logger: Logger;
  readonly guards?: ExchangeGuards | undefined;
}

export interface ExchangeRequest {
  readonly token: string;
  readonly packages?: readonly string[] | undefined;
  readonly permissions?: readonly Permission[] | undefined;
  /** RFC 8693 `audience`/`resource`: must be the registry's `token_audience`. */
  readonly targetAudience?: string | undefined;
  /** Set by a registry-compatible route: the token must be for this registry. */
  readonly registry?: string | undefined;
  /** Which endpoint asked, for audit (`native`, `rfc8693`, `npm`, ...). */
  readonly endpoint: string;
  /** The caller's address as the rate limiter saw it, for audit. */
  readonly client?: string | undefined;
}

export interface ExchangeResult {
  readonly token: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  readonly ttlSeconds: number;
  readonly registryId: string;
  readonly registry: RegistryConfig;
  readonly publishers: readonly string[];
  readonly packages: readonly string[];
  readonly permissions: readonly Permission[];
  readonly scope: string;
  readonly act: Readonly<Record<string, string>>;
}
