import { describe, expect, it } from "vitest";
import { lineBatch } from "../../src/telemetry/line-batch.js";

describe("lineBatch", () => {
  it("writes the lines of one turn together, in order, on the next turn", async () => {
    const writes: string[] = [];
    const batch = lineBatch((chunk) => writes.push(chunk));
    batch.write("a\n");
    batch.write("b\n");
    batch.write("c\n");
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(["a\nb\nc\n"]);
    batch.write("d\n");
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(["a\nb\nc\n", "d\n"]);
  });

  it("flush writes what waits at once, and nothing twice", () => {
    const writes: string[] = [];
    const scheduled: (() => void)[] = [];
    const batch = lineBatch(
      (chunk) => writes.push(chunk),
      (run) => scheduled.push(run),
    );
    batch.write("a\n");
    batch.write("b\n");
    batch.flush();
    expect(writes).toEqual(["a\nb\n"]);
    for (const run of scheduled) run();
    expect(writes).toEqual(["a\nb\n"]);
    batch.write("c\n");
    expect(scheduled).toHaveLength(2);
    batch.flush();
    expect(writes).toEqual(["a\nb\n", "c\n"]);
  });
});
