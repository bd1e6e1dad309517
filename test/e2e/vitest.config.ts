import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * The end-to-end suite: real nginx, real Verdaccio, the real npm CLI. Run
 * with `npm run test:e2e` (CI runs it after `npm test`). One file at a time,
 * generous timeouts: the machine is small and shared.
 */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/e2e/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
    fileParallelism: false,
  },
});
