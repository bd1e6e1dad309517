import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { type Started, startProcess, step, waitUntil } from "./process.js";

export interface Verdaccio {
  readonly url: string;
  readonly proc: Started;
  /** The versions of a package as Verdaccio itself stores them (asked directly, not through nginx). */
  versions(name: string): Promise<string[]>;
}

/**
 * Runs the real Verdaccio (the npm package) with deploy/npm-mirror/verdaccio.yaml,
 * its storage and listener moved into this run. It listens on loopback only,
 * as in the example.
 */
export async function startVerdaccio(options: {
  dir: string;
  deployConf: string;
  port: number;
}): Promise<Verdaccio> {
  const config = parse(readFileSync(options.deployConf, "utf8")) as Record<string, unknown>;
  if (config.listen !== "127.0.0.1:4873") {
    throw new Error("deploy/npm-mirror/verdaccio.yaml: expected listen: 127.0.0.1:4873");
  }
  const storage = join(options.dir, "storage");
  mkdirSync(storage, { recursive: true });
  config.listen = `127.0.0.1:${options.port}`;
  config.storage = storage;
  config.auth = { htpasswd: { file: join(options.dir, "htpasswd"), max_users: -1 } };
  config.log = { type: "stdout", format: "json", level: "warn" };
  const file = join(options.dir, "verdaccio.yaml");
  writeFileSync(file, stringify(config));

  const bin = createRequire(import.meta.url).resolve("verdaccio/bin/verdaccio");
  step(`starting Verdaccio on 127.0.0.1:${options.port} (loopback only)`);
  const proc = startProcess("verdaccio", process.execPath, [bin, "-c", file], {
    PATH: process.env.PATH,
    HOME: options.dir,
  });
  const url = `http://127.0.0.1:${options.port}`;
  await waitUntil("Verdaccio", async () => (await fetch(`${url}/-/ping`)).ok, 90_000, proc);
  return {
    url,
    proc,
    async versions(name) {
      const res = await fetch(`${url}/${name.replace("/", "%2f")}`);
      if (res.status === 404) return [];
      const doc = (await res.json()) as { versions?: Record<string, unknown> };
      return Object.keys(doc.versions ?? {}).sort();
    },
  };
}
