import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { freePort } from "./ports.js";
import { type RedisProcess, startRedis } from "./redis.js";

const run = promisify(execFile);
const REDIS_CLI = process.env.REDIS_CLI_BIN ?? "/usr/bin/redis-cli";
const READY_TIMEOUT_MS = 20_000;

export interface RedisCluster {
  readonly nodes: readonly RedisProcess[];
  /** redis://127.0.0.1:PORT of every master, for `replay.redis.cluster`. */
  readonly urls: readonly string[];
  /** Keys over all masters. */
  dbsize(): Promise<number>;
  /** How many masters hold at least one key. */
  nodesWithKeys(): Promise<number>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A real Redis Cluster of `masters` redis-server processes on 127.0.0.1
 * (no replicas), each with its own free client and bus port, slots assigned
 * by `redis-cli --cluster create`. Resolves once every node reports
 * `cluster_state:ok`.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      const busPort = await freePort();
      nodes.push(
        await startRedis({
          extraArgs: [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
            "--cluster-port",
            String(busPort),
          ],
        }),
      );
    }
    await run(
      REDIS_CLI,
      [
        "--cluster",
        "create",
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
      ],
      { timeout: READY_TIMEOUT_MS },
    );
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (const node of nodes) {
      for (;;) {
        const info = String(await node.client().call("CLUSTER", "INFO"));
        if (info.includes("cluster_state:ok")) break;
        if (Date.now() > deadline)
          throw new Error(`cluster not ready on port ${node.port}:\n${info}`);
        await sleep(100);
      }
    }
  } catch (err) {
    await Promise.all(nodes.map((n) => n.close()));
    throw err;
  }
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    dbsize: async () =>
      (await Promise.all(nodes.map((n) => n.dbsize()))).reduce((a, b) => a + b, 0),
    nodesWithKeys: async () =>
      (await Promise.all(nodes.map((n) => n.dbsize()))).filter((n) => n > 0).length,
    close: async () => {
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
}
