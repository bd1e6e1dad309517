import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server.js";
import { type Harness, startHarness } from "../support/harness.js";
import { type RedisCluster, startRedisCluster } from "../support/redis-cluster.js";
import { raceExchanges, startReplica, waitReady } from "../support/replicas.js";

const ADMIN_TOKEN = "admin-cluster-test-token-0123456789";
let cluster: RedisCluster;
let h: Harness;
let replica: RunningServer;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  h = await startHarness({
    redis: false,
    configure: (config) => {
      config.replay = { redis: { cluster: [...cluster.urls] }, command_timeout: "1s" };
      config.admin = { token_sha256: [createHash("sha256").update(ADMIN_TOKEN).digest("hex")] };
    },
  });
  replica = await startReplica(h.config);
  await Promise.all([waitReady(h.url), waitReady(replica.url)]);
}, 60_000);
afterAll(async () => {
  await replica?.shutdown();
  await h?.close();
  await cluster?.close();
});

describe("replay store on a 3-master Redis Cluster", () => {
  it("is ready once every master answers", async () => {
    const res = await fetch(`${h.url}/readyz`);
    expect(res.status).toBe(200);
    expect(h.server.services.replay.kind).toBe("redis");
  });

  it("lets exactly one of 30 concurrent exchanges of one token succeed across two replicas", async () => {
    const ci = await h.githubToken();
    const result = await raceExchanges([h.url, replica.url], ci, 30);
    // Compared whole, so a failure shows every status and reason.
    expect([...result.statuses].sort(), JSON.stringify(result)).toEqual([
      200,
      ...Array<number>(29).fill(409),
    ]);
    expect(new Set(result.reasons)).toEqual(new Set(["replayed_token"]));
    expect(result.tokens).toBe(1);
  });

  it("spreads claims over the masters by slot", async () => {
    for (let i = 0; i < 12; i++) expect((await h.exchange(await h.githubToken())).status).toBe(200);
    expect(await cluster.nodesWithKeys()).toBeGreaterThanOrEqual(2);
  });

  it("writes nothing for a refused token", async () => {
    const before = await cluster.dbsize();
    const res = await h.exchange(await h.githubToken({ environment: "staging" }));
    expect(res.status).toBe(403);
    expect(res.body.reason).toBe("no_matching_publisher");
    expect(res.body.token).toBeUndefined();
    expect(await cluster.dbsize()).toBe(before);
  });

  it("stores admin publishers in one slot and shares them with the other replica", async () => {
    const put = await h.request("/v1/admin/publishers/acme-cluster", {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({
        registry: "npm-internal",
        ci_issuer: "github",
        match: { repository: "acme/cluster", repository_owner_id: "1234567" },
        packages: ["@acme/cluster"],
      }),
    });
    expect(put.status).toBe(201);
    const token = await h.githubToken({
      repository: "acme/cluster",
      sub: "repo:acme/cluster:ref:refs/tags/v1",
      workflow_ref: "acme/cluster/.github/workflows/release.yml@refs/tags/v1",
      job_workflow_ref: "acme/cluster/.github/workflows/release.yml@refs/tags/v1",
    });
    const deadline = Date.now() + 5_000;
    let status = 0;
    while (Date.now() < deadline) {
      const res = await fetch(`${replica.url}/v1/admin/publishers/acme-cluster`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      status = res.status;
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    const result = await raceExchanges([replica.url, h.url], token, 6);
    expect(result.statuses.filter((s) => s === 200)).toHaveLength(1);
  });
});
