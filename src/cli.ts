#!/usr/bin/env node
import { parseArgs } from "node:util";
import { base64url } from "jose";
import { ConfigError } from "./config/problems.js";
import { sha256Hex } from "./lib/sha256.js";
import { createLogger, readConfig, startServer } from "./server.js";
import { generatePrivateJwk, type SigningAlg } from "./tokens/keys.js";

const USAGE = `usage:
  trustpub serve [--config FILE]          run the service (or TRUSTPUB_CONFIG)
  trustpub check --config FILE            validate a config without serving
  trustpub keys generate [--alg ES256|EdDSA|RS256]
                                          print a new private JWKS with one current key
  trustpub admin token                    print a new admin bearer token and the
                                          admin.token_sha256 entry that accepts it`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string", short: "c" },
      alg: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, sub] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  switch (command) {
    case "serve": {
      const running = await startServer({ configPath: values.config, env: process.env });
      const stop = (signal: string) => {
        running.services.runtime.logger.info({ signal }, "signal received");
        running.shutdown().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on("SIGHUP", () => {
        running.services.runtime.logger.info({ signal: "SIGHUP" }, "signal received");
        void running.reload();
      });
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.once("SIGINT", () => stop("SIGINT"));
      return -1;
    }
    case "check": {
      const path = values.config ?? process.env.TRUSTPUB_CONFIG;
      if (!path) {
        console.error("trustpub check: pass --config FILE");
        return 2;
      }
      const loaded = await readConfig(path, process.env);
      for (const warning of loaded.warnings) console.error(`warning: ${warning}`);
      console.log(
        `${path}: ok (${Object.keys(loaded.config.ci_issuers).length} issuers, ${Object.keys(loaded.config.registries).length} registries, ${loaded.publishers.length} publishers${loaded.warnings.length ? `, ${loaded.warnings.length} warnings` : ""})`,
      );
      return 0;
    }
    case "keys": {
      if (sub !== "generate") break;
      const alg = (values.alg ?? "ES256") as SigningAlg;
      if (!["ES256", "EdDSA", "RS256"].includes(alg)) {
        console.error("trustpub keys generate: --alg must be ES256, EdDSA or RS256");
        return 2;
      }
      console.log(JSON.stringify({ keys: [await generatePrivateJwk(alg)] }, null, 2));
      return 0;
    }
    case "admin": {
      if (sub !== "token") break;
      const token = base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
      console.log(`token: ${token}\ntoken_sha256: ${await sha256Hex(token)}`);
      return 0;
    }
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(err.message);
    } else {
      createLogger("error").error(
        { err: (err as Error)?.message ?? String(err) },
        "trustpub failed to start",
      );
    }
    process.exitCode = 1;
  },
);
