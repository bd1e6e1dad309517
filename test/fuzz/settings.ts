/**
 * Fuzz runs per property. Bounded so `npm test` stays fast; `npm run fuzz`
 * sets FUZZ_RUNS for a long local run. FUZZ_SEED replays a failure.
 */
export const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
export const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

/** fast-check parameters shared by every property. */
export function params(runs = RUNS): { numRuns: number; seed?: number; endOnFailure: boolean } {
  return SEED === undefined
    ? { numRuns: runs, endOnFailure: true }
    : { numRuns: runs, seed: SEED, endOnFailure: true };
}

/** Vitest timeout for a property: generous per run, so only a real hang fails. */
export function timeoutFor(runs = RUNS, perRunMs = 100): number {
  return 30_000 + runs * perRunMs;
}

/** Runs `work`, failing if it takes longer than `ms`: a hang is a failure, not a stuck suite. */
export async function within<T>(ms: number, what: string, work: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work(), limit]);
  } finally {
    clearTimeout(timer);
  }
}
