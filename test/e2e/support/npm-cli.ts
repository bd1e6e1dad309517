import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { step } from "./process.js";

export interface NpmRun {
  readonly code: number | null;
  readonly output: string;
}

const NPM_TIMEOUT_MS = 120_000;

/** A package folder with a package.json and one file, ready for `npm publish`. */
export function packageDir(root: string, name: string, version: string): string {
  const dir = join(root, `${name.replace("/", "__")}-${version}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name, version, license: "Apache-2.0", main: "index.js" }, null, 2)}\n`,
  );
  writeFileSync(join(dir, "index.js"), `module.exports = ${JSON.stringify(version)};\n`);
  return dir;
}

/**
 * Runs the npm CLI installed on this machine in an environment built from
 * scratch: its own HOME, user config and cache, the registry given, and only
 * the CI variables `env` adds (so the CI running this suite cannot leak in).
 */
export function runNpm(
  what: string,
  args: readonly string[],
  options: { cwd: string; home: string; registry: string; env?: Record<string, string> },
): Promise<NpmRun> {
  step(`npm ${args.join(" ")}: ${what}`);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: options.home,
    npm_config_userconfig: join(options.home, ".npmrc"),
    npm_config_cache: join(options.home, ".npm"),
    npm_config_registry: options.registry,
    npm_config_update_notifier: "false",
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_loglevel: "http",
    ...options.env,
  };
  return new Promise((resolve) => {
    const child = spawn("npm", [...args], {
      cwd: options.cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const append = (chunk: Buffer) => {
      output += chunk.toString("utf8");
    };
    child.stdout.on("data", append);
    child.stderr.on("data", append);
    const timer = setTimeout(() => {
      output += `\n(npm killed after ${NPM_TIMEOUT_MS} ms)\n`;
      child.kill("SIGKILL");
    }, NPM_TIMEOUT_MS);
    child.once("close", (code) => {
      clearTimeout(timer);
      step(`npm exited with ${code}`);
      resolve({ code, output });
    });
  });
}
