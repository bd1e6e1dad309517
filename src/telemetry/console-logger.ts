import type { Logger } from "./logger.js";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

/** Where each level goes: the console's own methods, so a platform's log viewer keeps the level. */
export interface ConsoleLike {
  log(line: string): void;
  warn(line: string): void;
  error(line: string): void;
}

/**
 * One JSON object per line on the console, for runtimes without pino
 * (Cloudflare Workers, where console output becomes the Worker's logs).
 * Records below `level` are dropped; an unknown level means `info`.
 */
export function consoleJsonLogger(
  level: string | undefined,
  out: ConsoleLike = console,
  now: () => number = Date.now,
): Logger {
  const threshold = LEVELS[(level as Level) in LEVELS ? (level as Level) : "info"];
  const at = (name: Level) => (fields: Record<string, unknown>, msg: string) => {
    if (LEVELS[name] < threshold) return;
    const line = safeJson({
      level: name,
      time: new Date(now()).toISOString(),
      service: "trustpub",
      ...fields,
      msg,
    });
    if (name === "error") out.error(line);
    else if (name === "warn") out.warn(line);
    else out.log(line);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** JSON.stringify that never throws: a cycle or a BigInt becomes a string, not a lost record. */
function safeJson(record: Record<string, unknown>): string {
  try {
    return JSON.stringify(record, (_key, value) =>
      typeof value === "bigint" ? value.toString() : value,
    );
  } catch {
    return JSON.stringify({ level: record.level, time: record.time, msg: String(record.msg) });
  }
}
