/**
 * The logging interface the core uses: pino's shape (object first, then the
 * message), so the Node entry passes pino itself and other runtimes or tests
 * pass anything with these four methods. Never log a whole token.
 */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Keeps every record, for tests that assert what was logged. */
export function memoryLogger(): Logger & {
  records: { level: string; msg: string; [k: string]: unknown }[];
} {
  const records: { level: string; msg: string; [k: string]: unknown }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => {
    records.push({ ...fields, level, msg });
  };
  return { records, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
