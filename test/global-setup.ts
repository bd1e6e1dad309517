import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const BUILD_TIMEOUT_MS = 180_000;

/**
 * Builds `dist/` once per test run: the lifecycle, quickstart and two-process
 * replay suites spawn the real `trustpub` command (`node dist/cli.js`).
 * tsc writes into a staging folder next to `dist/` (the same depth, so the
 * source maps' relative paths hold) whose files are then renamed into place:
 * a `trustpub` process started by a concurrent run never reads a half-written file.
 */
export default async function setup(): Promise<void> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const dist = join(root, "dist");
  const staging = await mkdtemp(join(root, ".dist-staging-"));
  try {
    await promisify(execFile)("npx", ["tsc", "-p", "tsconfig.build.json", "--outDir", staging], {
      cwd: root,
      timeout: BUILD_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`building dist/ failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
    });
    await moveInto(staging, dist);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Renames every file of `from` to the same place under `to` (each rename is atomic). */
async function moveInto(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) await moveInto(source, target);
    else await rename(source, target);
  }
}
