import { type ChildProcess, spawn } from "node:child_process";

const OUTPUT_LIMIT = 64 * 1024;

export interface SpawnedServer {
  readonly child: ChildProcess;
  /** The URL from the "trustpub is serving" log line. */
  readonly url: string;
  /** Everything the process printed so far (bounded). */
  output(): string;
  /** Parsed JSON lines of stdout. */
  records(): Record<string, unknown>[];
  /** SIGTERM, then wait for the exit (SIGKILL after `graceMs`); resolves to the exit code or signal. */
  stop(graceMs?: number): Promise<string>;
}

/**
 * Starts `trustpub serve` as a child process (any runtime's command line),
 * and waits, bounded, until it logs that it serves. Killed on test exit.
 */
export async function spawnServer(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  cwd: string,
  readyTimeoutMs = 30_000,
): Promise<SpawnedServer> {
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  let output = "";
  let stdout = "";
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on("data", (chunk: Buffer) => {
    append(chunk);
    stdout = (stdout + chunk.toString("utf8")).slice(-OUTPUT_LIMIT);
  });
  child.stderr?.on("data", append);
  const exited = new Promise<string>((resolve) => {
    child.once("error", (err) => resolve(`spawn error: ${err.message}`));
    child.once("exit", (code, signal) => {
      process.removeListener("exit", kill);
      resolve(signal ? `signal ${signal}` : `code ${code}`);
    });
  });
  const records = () =>
    stdout.split("\n").flatMap((line) => {
      try {
        return line.trim() ? [JSON.parse(line) as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });

  const deadline = Date.now() + readyTimeoutMs;
  let url: string | undefined;
  let how: string | undefined;
  void exited.then((h) => {
    how = h;
  });
  while (url === undefined) {
    url = records().find((r) => r.msg === "trustpub is serving")?.url as string | undefined;
    if (url) break;
    if (how !== undefined || Date.now() > deadline) {
      kill();
      throw new Error(
        `${command} ${args.join(" ")} did not start (${how ?? "timed out"}); output:\n${output}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    child,
    url,
    output: () => output,
    records,
    async stop(graceMs = 10_000) {
      if (how !== undefined) return how;
      child.kill("SIGTERM");
      const timer = setTimeout(kill, graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}
