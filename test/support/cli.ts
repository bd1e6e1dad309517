import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { freePort } from "./ports.js";
import { type Captured, type Exit, spawnCaptured, track } from "./spawn.js";

export type { Exit } from "./spawn.js";

/** The built command (`npm run build`; test/global-setup.ts builds it once per run). */
export const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
export const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 10_000;

export interface CliRun extends Exit {
  stdout: string;
  stderr: string;
}

export interface ServeProcess {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** stdout and stderr so far (the tail). */
  output(): string;
  readonly exit: Promise<Exit>;
  exited(): boolean;
  signal(name: NodeJS.Signals): void;
  /** SIGTERM, SIGKILL after a grace period; resolves with how it exited. */
  stop(): Promise<Exit>;
}

/** Extra environment for a child; a name set to undefined is removed. */
export type EnvEdits = Record<string, string | undefined>;

/** The environment of a child: this one's, minus everything trustpub reads, plus `extra`. */
export function childEnv(extra: EnvEdits = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [
    "PORT",
    "HOST",
    "REDIS_URL",
    "TRUSTPUB_CONFIG",
    "TRUSTPUB_SIGNING_KEYS",
    "LOG_LEVEL",
  ]) {
    delete env[name];
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** A temp folder for configs and key files; `cleanup` removes it. */
export async function tempDir(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "trustpub-cli-"));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Writes a config value as YAML and returns its path. */
export async function writeYaml(dir: string, name: string, value: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, stringify(value), "utf8");
  return path;
}

/** Runs `node dist/cli.js ARGS` to completion (check, keys generate, a failing serve). */
export function runCli(
  args: readonly string[],
  opts: { env?: EnvEdits; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: PROJECT_ROOT,
      env: childEnv(opts.env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    track(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`trustpub ${args.join(" ")} did not finish; output:\n${stdout}${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function answers(url: string, path: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

function spawnServe(configPath: string, port: number, env: EnvEdits): Captured {
  return spawnCaptured(process.execPath, [CLI, "serve", "--config", configPath], {
    cwd: PROJECT_ROOT,
    env: childEnv({ HOST: "127.0.0.1", LOG_LEVEL: "warn", ...env, PORT: String(port) }),
  });
}

/**
 * Starts `node dist/cli.js serve --config FILE` on a free loopback port and
 * waits until `readyPath` answers 200 (bounded). HOST is 127.0.0.1 and
 * LOG_LEVEL warn unless `env` says otherwise; PORT is chosen here.
 */
export async function startServe(
  configPath: string,
  opts: { env?: EnvEdits; readyPath?: string; port?: number } = {},
): Promise<ServeProcess> {
  const readyPath = opts.readyPath ?? "/readyz";
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    const s = spawnServe(configPath, port, opts.env ?? {});
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let ready = false;
    while (!s.exited() && Date.now() < deadline) {
      if (await answers(url, readyPath)) {
        ready = true;
        break;
      }
      await sleep(50);
    }
    if (ready) {
      const stop = async (): Promise<Exit> => {
        if (!s.exited()) {
          s.child.kill("SIGTERM");
          const timeout = sleep(STOP_GRACE_MS).then(() => "timeout" as const);
          if ((await Promise.race([s.exit, timeout])) === "timeout") s.child.kill("SIGKILL");
        }
        return s.exit;
      };
      return {
        url,
        port,
        pid: s.child.pid!,
        output: s.output,
        exit: s.exit,
        exited: s.exited,
        signal: (name) => {
          if (!s.exited()) s.child.kill(name);
        },
        stop,
      };
    }
    if (!s.exited()) s.child.kill("SIGKILL");
    await s.exit;
    const retry = opts.port === undefined && attempt < 3 && s.output().includes("EADDRINUSE");
    if (!retry) {
      throw new Error(
        `trustpub serve did not become ready on ${url}${readyPath}; output:\n${s.output()}`,
      );
    }
  }
}
