#!/usr/bin/env node
// Bundles the Cloudflare Workers entry (src/edge/worker.ts) into one ES module
// for workerd, and refuses a bundle that pulls in anything Node-only.
import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Modules the Worker must never contain: the Node entry's dependencies and Node built-ins. */
const FORBIDDEN = [
  /(^|\/)node_modules\/(pino|ioredis|@hono\/node-server|thread-stream|sonic-boom)\//,
  /(^|\/)src\/(server|cli)\.ts$/,
  /(^|\/)src\/config\/node-files\.ts$/,
  /(^|\/)src\/replay\/redis(-client)?\.ts$/,
];
/** The only import left for the runtime to resolve. */
const ALLOWED_EXTERNAL = new Set(["cloudflare:workers"]);

/**
 * Bundles the Worker into `outfile` and returns what went in: `inputs` (the
 * bundled files) and `externals` (imports left to the runtime). Throws when
 * a forbidden module or a Node built-in is in the bundle.
 */
export async function bundleWorker(outfile = resolve(root, "dist/worker.js")) {
  await mkdir(dirname(outfile), { recursive: true });
  const result = await build({
    entryPoints: [resolve(root, "src/edge/worker.ts")],
    outfile,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: [...ALLOWED_EXTERNAL],
    metafile: true,
    minify: false,
    sourcemap: false,
    legalComments: "none",
    logLevel: "silent",
  });
  const output = Object.values(result.metafile.outputs)[0];
  const inputs = Object.keys(result.metafile.inputs);
  const externals = [...new Set(output.imports.filter((i) => i.external).map((i) => i.path))];
  const problems = [
    ...inputs.filter((path) => FORBIDDEN.some((re) => re.test(path))).map((p) => `bundles ${p}`),
    ...externals.filter((path) => !ALLOWED_EXTERNAL.has(path)).map((p) => `imports ${p}`),
  ];
  if (problems.length > 0) {
    throw new Error(`the Worker bundle is not Workers-only:\n  ${problems.join("\n  ")}`);
  }
  return { outfile, bytes: output.bytes, inputs, externals };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ? resolve(process.argv[2]) : undefined;
  bundleWorker(out).then(
    ({ outfile, bytes, externals }) =>
      console.log(`${outfile}: ${bytes} bytes, imports ${externals.join(", ") || "nothing"}`),
    (err) => {
      console.error(err.message);
      process.exitCode = 1;
    },
  );
}
