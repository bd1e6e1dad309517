import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./ports.js";
import { type RedisProcess, startRedis } from "./redis.js";

const SENTINEL_BIN = process.env.REDIS_SENTINEL_BIN ?? "/usr/bin/redis-sentinel";
const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? "/usr/bin/redis-server";
const READY_TIMEOUT_MS = 30_000;
export const MASTER_NAME = "mymaster";

export interface SentinelGroup {
  readonly name: string;
  /** redis://127.0.0.1:PORT of every sentinel, for `replay.redis.sentinels`. */
  readonly sentinelUrls: readonly string[];
  /** The server that is master now. */
  master(): RedisProcess;
  /** Waits until the replica has everything the master has (WAIT 1). */
  replicated(): Promise<void>;
  /** Stops the master and waits until the sentinels promoted the replica. */
  failover(): Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what} (${String(last ?? "")})`);
    await sleep(100);
  }
}

/**
 * A master, one replica and three sentinels (quorum 2), all real processes
 * on 127.0.0.1 started from Debian's redis-server and redis-sentinel (or
 * `redis-server --sentinel` when the sentinel binary is missing). A master
 * is declared down after 1 s, so a failover takes a few seconds.
 */
export async function startSentinelGroup(): Promise<SentinelGroup> {
  const dir = await mkdtemp(join(tmpdir(), "trustpub-sentinel-"));
  const servers: RedisProcess[] = [];
  const sentinels: { port: number; child: ChildProcess; client: Redis }[] = [];
  let masterIndex = 0;

  const close = async () => {
    for (const s of sentinels) s.client.disconnect();
    await Promise.all(
      sentinels.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
            s.child.once("exit", () => resolve());
            s.child.kill("SIGTERM");
            setTimeout(() => s.child.kill("SIGKILL"), 3_000).unref();
          }),
      ),
    );
    await Promise.all(servers.map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const master = await startRedis();
    servers.push(master);
    const replica = await startRedis({
      extraArgs: ["--replicaof", "127.0.0.1", String(master.port)],
    });
    servers.push(replica);
    await until("the replica to sync", async () =>
      String(await replica.client().info("replication")).includes("master_link_status:up")
        ? true
        : undefined,
    );

    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(dir, `sentinel-${i}.conf`);
      await writeFile(
        conf,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          "protected-mode no",
          "daemonize no",
          `dir ${dir}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
          `sentinel failover-timeout ${MASTER_NAME} 10000`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          "",
        ].join("\n"),
      );
      const [bin, args] = existsSync(SENTINEL_BIN)
        ? [SENTINEL_BIN, [conf]]
        : [REDIS_BIN, [conf, "--sentinel"]];
      const child = spawn(bin, args, { stdio: "ignore" });
      live.add(child);
      child.once("exit", () => live.delete(child));
      const client = new Redis({
        host: "127.0.0.1",
        port,
        lazyConnect: true,
        maxRetriesPerRequest: 3,
      });
      client.on("error", () => {});
      sentinels.push({ port, child, client });
    }
    for (const sentinel of sentinels) {
      await until(`sentinel ${sentinel.port} to see the replica and its peers`, async () => {
        const replicas = (await sentinel.client.call(
          "SENTINEL",
          "REPLICAS",
          MASTER_NAME,
        )) as unknown[];
        const peers = (await sentinel.client.call(
          "SENTINEL",
          "SENTINELS",
          MASTER_NAME,
        )) as unknown[];
        return replicas.length === 1 && peers.length === 2 ? true : undefined;
      });
    }
  } catch (err) {
    await close();
    throw err;
  }

  return {
    name: MASTER_NAME,
    sentinelUrls: sentinels.map((s) => `redis://127.0.0.1:${s.port}`),
    master: () => servers[masterIndex]!,
    async replicated() {
      const acked = await servers[masterIndex]!.client().call("WAIT", "1", "5000");
      if (Number(acked) < 1) throw new Error("the replica did not acknowledge the writes");
    },
    async failover() {
      const next = 1 - masterIndex;
      const promoted = servers[next]!;
      await servers[masterIndex]!.stop();
      await until("the sentinels to promote the replica", async () => {
        const addr = (await sentinels[0]!.client.call(
          "SENTINEL",
          "GET-MASTER-ADDR-BY-NAME",
          MASTER_NAME,
        )) as string[];
        const role = (await promoted.client().call("ROLE")) as unknown[];
        return Number(addr[1]) === promoted.port && role[0] === "master" ? true : undefined;
      });
      masterIndex = next;
    },
    close,
  };
}
