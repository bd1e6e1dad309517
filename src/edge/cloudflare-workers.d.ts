/**
 * The part of the Workers runtime module that trustpub uses, typed by hand:
 * `@cloudflare/workers-types` declares the whole platform as globals, which
 * clash with the DOM and Node types the rest of the project is checked with.
 */
declare module "cloudflare:workers" {
  export type SqlValue = string | number | null | ArrayBuffer;

  export interface SqlCursor<Row> extends Iterable<Row> {
    toArray(): Row[];
    one(): Row;
    readonly rowsRead: number;
    readonly rowsWritten: number;
  }

  export interface SqlStorage {
    exec<Row = Record<string, SqlValue>>(query: string, ...bindings: SqlValue[]): SqlCursor<Row>;
  }

  export interface DurableObjectStorage {
    readonly sql: SqlStorage;
    getAlarm(): Promise<number | null>;
    setAlarm(scheduledTime: number | Date): Promise<void>;
    deleteAlarm(): Promise<void>;
  }

  export interface DurableObjectState {
    readonly storage: DurableObjectStorage;
    blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T>;
  }

  export abstract class DurableObject<Env = unknown> {
    protected readonly ctx: DurableObjectState;
    protected readonly env: Env;
    constructor(ctx: DurableObjectState, env: Env);
  }
}
