import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server.js";
import { type Harness, startHarness } from "../support/harness.js";
import { type SentinelGroup, startSentinelGroup } from "../support/redis-sentinel.js";
import { raceExchanges, startReplica, waitReady } from "../support/replicas.js";

let group: SentinelGroup;
let h: Harness;
let replica: RunningServer;

beforeAll(async () => {
  group = await startSentinelGroup();
  h = await startHarness({
    redis: false,
    configure: (config) => {
      config.replay = {
        redis: { sentinels: [...group.sentinelUrls], name: group.name },
        command_timeout: "1s",
      };
    },
  });
  replica = await startReplica(h.config);
  await Promise.all([waitReady(h.url), waitReady(replica.url)]);
}, 90_000);
afterAll(async () => {
  await replica?.shutdown();
  await h?.close();
  await group?.close();
});

describe("replay store behind Redis Sentinel", () => {
  let usedBeforeFailover: string;

  it("lets exactly one of 30 concurrent exchanges of one token succeed across two replicas", async () => {
    expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
    const ci = await h.githubToken();
    const result = await raceExchanges([h.url, replica.url], ci, 30);
    expect(result.statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(result.statuses.filter((s) => s === 409)).toHaveLength(29);
    expect(result.tokens).toBe(1);
    usedBeforeFailover = ci;
    expect(await group.master().dbsize()).toBeGreaterThan(0);
  });

  it("survives a failover: 503 and no token while the master is gone, then exchanges again", async () => {
    await group.replicated();
    let promoted = false;
    const failover = group.failover().then(() => {
      promoted = true;
    });
    const statuses: number[] = [];
    let tokensDuringOutage = 0;
    const deadline = Date.now() + 45_000;
    for (;;) {
      const res = await h.exchange(await h.githubToken());
      statuses.push(res.status);
      if (res.status === 200 && promoted) break;
      if (res.status !== 200) {
        expect(res.status).toBe(503);
        expect(res.body.reason).toBe("unavailable");
        if (res.body.token !== undefined) tokensDuringOutage++;
      }
      if (Date.now() > deadline) throw new Error(`no recovery: ${statuses.join(",")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await failover;
    expect(statuses).toContain(503);
    expect(statuses.at(-1)).toBe(200);
    expect(tokensDuringOutage).toBe(0);
  }, 60_000);

  it("still refuses a token exchanged before the failover (the claim was replicated)", async () => {
    const again = await h.exchange(usedBeforeFailover);
    expect(again.status).toBe(409);
    expect(again.body.reason).toBe("replayed_token");
    expect(again.body.token).toBeUndefined();
  });

  it("keeps the exactly-once guarantee on the promoted master, from both replicas", async () => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if ((await fetch(`${replica.url}/readyz`)).status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const ci = await h.githubToken();
    const result = await raceExchanges([h.url, replica.url], ci, 30);
    expect(result.statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(result.statuses.filter((s) => s === 409)).toHaveLength(29);
    expect(result.tokens).toBe(1);
  }, 60_000);
});
