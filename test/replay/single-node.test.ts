import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server.js";
import { type Harness, startHarness } from "../support/harness.js";
import { raceExchanges, startReplica, waitReady } from "../support/replicas.js";

let h: Harness;
let replica: RunningServer;

beforeAll(async () => {
  h = await startHarness();
  replica = await startReplica(h.config);
  await Promise.all([waitReady(h.url), waitReady(replica.url)]);
});
afterAll(async () => {
  await replica?.shutdown();
  await h?.close();
});

describe("replay store on a single Redis node", () => {
  it("lets exactly one of 30 concurrent exchanges of one token succeed across two replicas", async () => {
    const ci = await h.githubToken();
    const result = await raceExchanges([h.url, replica.url], ci, 30);
    expect(result.statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(result.statuses.filter((s) => s === 409)).toHaveLength(29);
    expect(new Set(result.reasons)).toEqual(new Set(["replayed_token"]));
    expect(result.tokens).toBe(1);
    expect(await h.storedKeys()).toBe(1);
  });
});
