import { Hono } from "hono";
import {
  asTrustpubError,
  errorBody,
  errorHeaders,
  isTrustpubError,
  TrustpubError,
} from "./errors.js";
import { adminRoutes } from "./routes/admin.js";
import { authzRoutes } from "./routes/authz.js";
import { clientRateLimit } from "./routes/client-limit.js";
import { demoIssuerRoutes } from "./routes/demo-issuer.js";
import type { AppEnv, ErrorShape } from "./routes/env.js";
import { introspectRoutes } from "./routes/introspect.js";
import { nativeRoutes } from "./routes/native.js";
import { opsRoutes } from "./routes/ops.js";
import { registryRoutes } from "./routes/registries/index.js";
import { revokeRoutes } from "./routes/revoke.js";
import { rfc8693Routes } from "./routes/rfc8693.js";
import { httpTelemetry, metricsRoutes } from "./routes/telemetry.js";
import { wellKnownRoutes } from "./routes/well-known.js";
import type { Services } from "./services.js";

export interface AppOptions {
  /** The current services; a reload swaps what this returns. */
  readonly services: () => Services;
  /** The caller's address from the runtime's connection info. */
  readonly clientAddress?: ((request: Request, env: unknown) => string | undefined) | undefined;
  /** The raw request target (`/a/../b?x`), where the runtime still has it. */
  readonly requestTarget?: ((request: Request, env: unknown) => string | undefined) | undefined;
}

/** The native error body: `{"error", "error_description", "reason"}`. */
export const nativeErrorShape: ErrorShape = (err) =>
  Response.json(errorBody(err), { status: err.status, headers: errorHeaders(err) });

/**
 * The whole HTTP surface. No I/O happens here: routes are mounted, and every
 * error goes through one mapper, in the shape of the protocol that was spoken.
 */
export function createApp(options: AppOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use("*", async (c, next) => {
    c.set("services", options.services());
    c.set("client", options.clientAddress?.(c.req.raw, c.env));
    c.set("target", options.requestTarget?.(c.req.raw, c.env));
    // Nothing trustpub answers may be cached (RFC 6749 5.1): tokens, decisions,
    // keys that rotate. Prepared before the route answers, so every response a
    // route builds carries it without copying the response afterwards; error
    // answers set it themselves (errorHeaders).
    c.header("Cache-Control", "no-store");
    await next();
  });
  app.use("*", httpTelemetry());
  app.use("*", clientRateLimit());

  app.route("/", opsRoutes());
  app.route("/", wellKnownRoutes());
  app.route("/", nativeRoutes());
  app.route("/", rfc8693Routes());
  app.route("/", demoIssuerRoutes());
  app.route("/", adminRoutes());
  app.route("/", metricsRoutes());
  app.route("/", introspectRoutes());
  app.route("/", revokeRoutes());
  app.route("/", authzRoutes());
  app.route("/", registryRoutes());

  app.notFound((c) =>
    nativeErrorShape(new TrustpubError("not_found", `no route for ${c.req.method} ${c.req.path}`)),
  );
  app.onError((err, c) => {
    const error = asTrustpubError(err);
    if (!isTrustpubError(err)) {
      c.get("services")?.runtime.logger.error(
        { err: String(err), stack: (err as Error).stack },
        "unhandled error",
      );
    }
    return (c.get("errorShape") ?? nativeErrorShape)(error);
  });
  return app;
}
