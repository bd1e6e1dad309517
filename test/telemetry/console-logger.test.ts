import { describe, expect, it } from "vitest";
import { consoleJsonLogger } from "../../src/telemetry/console-logger.js";

function capture() {
  const lines: { to: string; line: string }[] = [];
  return {
    lines,
    out: {
      log: (line: string) => lines.push({ to: "log", line }),
      warn: (line: string) => lines.push({ to: "warn", line }),
      error: (line: string) => lines.push({ to: "error", line }),
    },
  };
}

describe("consoleJsonLogger", () => {
  it("writes one JSON object per record, on the console method of its level", () => {
    const { lines, out } = capture();
    const logger = consoleJsonLogger("info", out, () => Date.UTC(2026, 0, 2, 3, 4, 5));
    logger.info({ shards: 16 }, "serving");
    logger.warn({}, "careful");
    logger.error({ err: "boom" }, "failed");
    expect(lines.map((l) => l.to)).toEqual(["log", "warn", "error"]);
    expect(JSON.parse(lines[0]!.line)).toEqual({
      level: "info",
      time: "2026-01-02T03:04:05.000Z",
      service: "trustpub",
      shards: 16,
      msg: "serving",
    });
  });

  it("drops records below the level; an unknown level means info", () => {
    const { lines, out } = capture();
    consoleJsonLogger("warn", out).info({}, "hidden");
    consoleJsonLogger("nonsense", out).debug({}, "hidden too");
    consoleJsonLogger(undefined, out).info({}, "shown");
    expect(lines.map((l) => JSON.parse(l.line).msg)).toEqual(["shown"]);
  });

  it("never throws on fields JSON cannot hold", () => {
    const { lines, out } = capture();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    consoleJsonLogger("debug", out).info({ cyclic, big: 1n }, "odd fields");
    consoleJsonLogger("debug", out).info({ big: 2n }, "bigint");
    expect(JSON.parse(lines[0]!.line)).toMatchObject({ level: "info", msg: "odd fields" });
    expect(JSON.parse(lines[1]!.line)).toMatchObject({ big: "2" });
  });
});
