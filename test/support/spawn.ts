import { type ChildProcess, spawn } from "node:child_process";

const OUTPUT_LIMIT = 64 * 1024;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A long-running child we own, with the bounded tail of what it printed. */
export interface Captured {
  readonly child: ChildProcess;
  /** Resolves when the process is gone (or could not start: code and signal null). */
  readonly exit: Promise<Exit>;
  /** The last 64 KiB of stdout and stderr together (a spawn error included). */
  output(): string;
  /** The last 64 KiB of stdout alone (JSON log lines). */
  stdout(): string;
  exited(): boolean;
}

// Every child tracked here and not yet seen exiting: killed if the test process exits first.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Kills `child` if the test process exits before it does. */
export function track(child: ChildProcess): void {
  live.add(child);
  child.once("close", () => live.delete(child));
  child.once("error", () => live.delete(child));
}

/** Spawns `command` with piped output, tracked so it never outlives the tests. */
export function spawnCaptured(
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string | undefined },
): Captured {
  const child = spawn(command, args, {
    env: options.env,
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  track(child);
  let output = "";
  let stdout = "";
  let done = false;
  const append = (text: string) => {
    output = (output + text).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    append(text);
    stdout = (stdout + text).slice(-OUTPUT_LIMIT);
  });
  child.stderr?.on("data", (chunk: Buffer) => append(chunk.toString("utf8")));
  const exit = new Promise<Exit>((resolve) => {
    const finish = (result: Exit) => {
      done = true;
      resolve(result);
    };
    child.once("error", (err) => {
      append(`spawn error: ${err.message}\n`);
      finish({ code: null, signal: null });
    });
    child.once("close", (code, signal) => finish({ code, signal }));
  });
  return { child, exit, output: () => output, stdout: () => stdout, exited: () => done };
}
