import { defineConfig } from "vitest/config";

/** Smoke tests of the built CLI under Node, Deno and Bun (`npm run test:runtimes`). */
export default defineConfig({
  test: {
    include: ["test/e2e/runtimes.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    fileParallelism: false,
  },
});
