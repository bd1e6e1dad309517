import { createApp, nativeErrorShape } from "../app.js";
import { ConfigError } from "../config/problems.js";
import { TrustpubError } from "../errors.js";
import { systemClock } from "../lib/clock.js";
import { durableObjectReplayStore } from "../replay/durable-object-store.js";
import { buildServices, type Services } from "../services.js";
import { jsonLinesAudit } from "../telemetry/audit.js";
import { consoleJsonLogger } from "../telemetry/console-logger.js";
import { loadWorkerConfig, type WorkerConfigSource, type WorkerEnv } from "./env.js";

/** A module Worker's default export: `fetch(request, env, ctx)`. */
export interface WorkerHandler {
  fetch(request: Request, env: WorkerEnv, ctx?: unknown): Promise<Response>;
}

/**
 * The Workers entry around the same app as the Node server: the config and
 * keys come from bindings, claims go to Durable Objects, logs and audit
 * events to the console as JSON lines. Services are built once per isolate,
 * on its first request; a config problem is logged with every path and
 * answers 500 until the Worker is redeployed.
 */
export function createWorker(source: WorkerConfigSource = {}): WorkerHandler {
  let services: Services | undefined;
  let starting: Promise<Services> | undefined;
  const app = createApp({
    services: () => services!,
    clientAddress: (request) => request.headers.get("cf-connecting-ip") ?? undefined,
  });

  const start = async (env: WorkerEnv): Promise<Services> => {
    const logger = consoleJsonLogger(typeof env.LOG_LEVEL === "string" ? env.LOG_LEVEL : undefined);
    const { loaded, replay, shards } = await loadWorkerConfig(env, source);
    for (const warning of loaded.warnings) logger.warn({}, warning);
    const built = await buildServices(loaded, {
      fetch: (input, init) => fetch(input, init),
      clock: systemClock,
      logger,
      audit: jsonLinesAudit((line) => console.log(line.trimEnd())),
      replay: durableObjectReplayStore(replay, {
        shards,
        timeoutMs: loaded.config.replay.command_timeout,
      }),
    });
    logger.info(
      {
        replay: built.replay.kind,
        shards,
        issuers: Object.keys(loaded.config.ci_issuers).length,
        publishers: loaded.publishers.length,
      },
      "trustpub is serving",
    );
    return built;
  };

  return {
    async fetch(request, env, ctx) {
      if (!services) {
        starting ??= start(env).catch((err: unknown) => {
          // A config problem stays until redeploy; anything else is tried again.
          if (!(err instanceof ConfigError)) starting = undefined;
          throw err;
        });
        try {
          services = await starting;
        } catch (err) {
          consoleJsonLogger("error").error(
            err instanceof ConfigError
              ? { problems: err.problems }
              : { err: String(err), stack: (err as Error)?.stack },
            "trustpub cannot start",
          );
          return nativeErrorShape(new TrustpubError("internal", "internal error"));
        }
      }
      return app.fetch(request, env, ctx as never);
    },
  };
}
