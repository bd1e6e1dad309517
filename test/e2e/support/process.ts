import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const OUTPUT_LIMIT = 64 * 1024;

/** Prints what a long step is doing, so a slow or stuck run says where it is. */
export function step(message: string): void {
  process.stdout.write(`[e2e ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export interface Started {
  readonly name: string;
  readonly pid: number;
  /** The last 64 KiB of its stdout and stderr. */
  output(): string;
  exited(): boolean;
  /** SIGTERM, then SIGKILL (with its own children) after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Children of a pid, read from /proc (nginx workers, for a last-resort kill). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Spawns a long-running process we own, keeping its output for failure messages. */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
): Started {
  const child = spawn(command, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  live.add(child);
  let output = "";
  let done = false;
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exit = new Promise<void>((resolve) => {
    child.once("close", () => {
      done = true;
      live.delete(child);
      resolve();
    });
    child.once("error", (err) => {
      append(Buffer.from(`spawn error: ${err.message}\n`));
      done = true;
      live.delete(child);
      resolve();
    });
  });
  const pid = child.pid;
  return {
    name,
    pid,
    output: () => output,
    exited: () => done,
    async stop(graceMs = 5_000) {
      if (done) return;
      child.kill("SIGTERM");
      const timedOut = await Promise.race([
        exit.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), graceMs)),
      ]);
      if (timedOut) {
        for (const grandchild of childrenOf(pid)) {
          try {
            process.kill(grandchild, "SIGKILL");
          } catch {
            // already gone
          }
        }
        child.kill("SIGKILL");
        await exit;
      }
    },
  };
}

/** Polls `probe` until it is true, at most `timeoutMs`; fails naming `what` and the process output. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  proc?: Started,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc?.exited()) throw new Error(`${what}: ${proc.name} exited:\n${proc.output()}`);
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms${proc ? `:\n${proc.output()}` : ""}`);
}
