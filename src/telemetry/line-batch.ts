/**
 * Gathers lines written during one turn of the event loop and hands them to
 * `write` together: under load many exchanges finish in one turn, and one
 * write call (a system call on stdout) per turn replaces one per exchange.
 * A line waits at most until the next turn; `flush` writes what waits now
 * (shutdown and process exit call it, so no line is left behind).
 */
export interface LineBatch {
  write(line: string): void;
  flush(): void;
}

export function lineBatch(
  write: (chunk: string) => void,
  schedule: (run: () => void) => void = setImmediate,
): LineBatch {
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const chunk = pending.length === 1 ? pending[0]! : pending.join("");
    pending = [];
    write(chunk);
  };
  return {
    write(line) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        schedule(flush);
      }
    },
    flush,
  };
}
