import { readdirSync, readFileSync } from "node:fs";
import { spawnCaptured } from "../../support/spawn.js";

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
  const { child, exit, output, exited } = spawnCaptured(command, args, { env, cwd });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  return {
    name,
    pid,
    output,
    exited,
    async stop(graceMs = 5_000) {
      if (exited()) return;
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
