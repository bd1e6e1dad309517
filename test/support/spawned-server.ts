import type { ChildProcess } from "node:child_process";
import { spawnCaptured } from "./spawn.js";

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
  const { child, exit, output, stdout } = spawnCaptured(command, args, {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...env },
  });
  const kill = () => child.kill("SIGKILL");
  const exited = exit.then(({ code, signal }) =>
    signal ? `signal ${signal}` : code === null ? `spawn error: ${output()}` : `code ${code}`,
  );
  const records = () =>
    stdout()
      .split("\n")
      .flatMap((line) => {
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
        `${command} ${args.join(" ")} did not start (${how ?? "timed out"}); output:\n${output()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    child,
    url,
    output,
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
