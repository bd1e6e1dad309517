import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./ports.js";

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? "/usr/bin/redis-server";
const READY_TIMEOUT_MS = 5_000;
const STOP_GRACE_MS = 3_000;
const OUTPUT_LIMIT = 8_192;

export interface RedisProcess {
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** pid of the running server, undefined while stopped. */
  pid(): number | undefined;
  /** A lazily created ioredis client for assertions; reconnects after stop()/start(). */
  client(): Redis;
  dbsize(): Promise<number>;
  /** FLUSHALL */
  flush(): Promise<void>;
  /** SIGTERM (SIGKILL after a grace period) and wait for exit; the port number is kept for start(). */
  stop(): Promise<void>;
  /** Start again on the same port and wait until PING answers. No-op while running. */
  start(): Promise<void>;
  /** SIGSTOP */
  pause(): void;
  /** SIGCONT */
  resume(): void;
  /** Quit the assertion client, kill the server for good, remove its temp dir. */
  close(): Promise<void>;
}

// Every server we spawned and have not yet seen exit: killed if the test process exits first.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: () => boolean;
  exit: Promise<string>;
}

function spawnServer(port: number, dir: string, extraArgs: string[]): Spawned {
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
    "--dir",
    dir,
    ...extraArgs,
  ];
  const child = spawn(REDIS_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  installExitHook();
  live.add(child);
  let output = "";
  let done = false;
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString("utf8")).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exit = new Promise<string>((resolve) => {
    const finish = (how: string): void => {
      if (done) return;
      done = true;
      live.delete(child);
      resolve(how);
    };
    child.once("error", (err) => finish(`spawn error: ${err.message}`));
    child.once("close", (code, signal) => finish(signal ? `signal ${signal}` : `code ${code}`));
  });
  return { child, output: () => output, exited: () => done, exit };
}

function ping(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once("error", () => finish(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      if (reply.includes("\r\n")) finish(reply.startsWith("+PONG"));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitReady(server: Spawned, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exited()) {
      const how = await server.exit;
      throw new Error(
        `redis-server on 127.0.0.1:${port} exited (${how}) before answering PING; output:\n${server.output()}`,
      );
    }
    if (await ping(port, 250)) return;
    await sleep(25);
  }
  server.child.kill("SIGKILL");
  await server.exit;
  throw new Error(
    `redis-server on 127.0.0.1:${port} did not answer PING within ${READY_TIMEOUT_MS} ms; output:\n${server.output()}`,
  );
}

async function terminate(server: Spawned, paused: boolean): Promise<void> {
  if (server.exited()) return;
  if (paused) server.child.kill("SIGCONT");
  server.child.kill("SIGTERM");
  const timeout = sleep(STOP_GRACE_MS).then(() => "timeout");
  if ((await Promise.race([server.exit, timeout])) === "timeout") {
    server.child.kill("SIGKILL");
    await server.exit;
  }
}

/** Spawns a throwaway redis-server on 127.0.0.1 and waits until it answers PING. */
export async function startRedis(opts: { extraArgs?: string[] } = {}): Promise<RedisProcess> {
  const extraArgs = opts.extraArgs ?? [];
  const dir = await mkdtemp(join(tmpdir(), "trustpub-redis-"));
  let port = 0;
  let server: Spawned | undefined;
  // The free port can be taken between probing and binding; retry only on that error.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const candidate = spawnServer(port, dir, extraArgs);
    try {
      await waitReady(candidate, port);
      server = candidate;
      break;
    } catch (err) {
      if (attempt >= 3 || !candidate.output().includes("Address already in use")) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  let current: Spawned | undefined = server;
  let paused = false;
  let closed = false;
  let assertionClient: Redis | undefined;

  const handle: RedisProcess = {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: () => (current && !current.exited() ? current.child.pid : undefined),
    client() {
      if (!assertionClient) {
        assertionClient = new Redis({
          host: "127.0.0.1",
          port,
          maxRetriesPerRequest: 10,
          retryStrategy: (times) => Math.min(times * 50, 250),
        });
        assertionClient.on("error", () => {});
      }
      return assertionClient;
    },
    dbsize: () => handle.client().dbsize(),
    async flush() {
      await handle.client().flushall();
    },
    async stop() {
      if (!current) return;
      await terminate(current, paused);
      paused = false;
      current = undefined;
    },
    async start() {
      if (closed) throw new Error(`redis on 127.0.0.1:${port} was closed; start a new one`);
      if (current && !current.exited()) return;
      const next = spawnServer(port, dir, extraArgs);
      await waitReady(next, port);
      current = next;
      paused = false;
    },
    pause() {
      if (current && !current.exited()) {
        current.child.kill("SIGSTOP");
        paused = true;
      }
    },
    resume() {
      if (current && !current.exited()) current.child.kill("SIGCONT");
      paused = false;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (assertionClient) {
        const c = assertionClient;
        assertionClient = undefined;
        if (c.status === "ready" && !paused) {
          await Promise.race([c.quit().catch(() => undefined), sleep(1_000)]);
        }
        c.disconnect();
      }
      await handle.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return handle;
}
