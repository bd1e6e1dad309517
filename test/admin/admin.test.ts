import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src/server.js";
import { memoryAudit } from "../../src/telemetry/audit.js";
import { silentLogger } from "../../src/telemetry/logger.js";
import { type Harness, NPM_AUDIENCE, startHarness } from "../support/harness.js";
import { waitReady } from "../support/replicas.js";

const ADMIN_TOKEN = "admin-7c1f0e5b2a9d4c3e8f6a1b0c9d8e7f6a";
const OTHER_TOKEN = "admin-0000000000000000000000000000000";
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

const auth = (token = ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` });
const json = { "content-type": "application/json" };

/** An admin publisher for another repository of the same owner. */
const toolsPublisher = {
  registry: "npm-internal",
  ci_issuer: "github",
  match: {
    repository: "acme/tools",
    repository_owner_id: "1234567",
    workflow: "release.yml",
    ref: { glob: "refs/tags/v*" },
  },
  packages: ["@acme/tools"],
  permissions: ["publish"],
};
const toolsClaims = {
  repository: "acme/tools",
  sub: "repo:acme/tools:ref:refs/tags/v2.0.0",
  ref: "refs/tags/v2.0.0",
  workflow_ref: "acme/tools/.github/workflows/release.yml@refs/tags/v2.0.0",
  job_workflow_ref: "acme/tools/.github/workflows/release.yml@refs/tags/v2.0.0",
  environment: undefined,
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    configure: (config) => {
      config.admin = { token_sha256: [sha256(ADMIN_TOKEN)], poll_interval: "2s" };
    },
  });
});
afterAll(async () => {
  await h?.close();
});

const admin = (method: string, path: string, body?: unknown, token?: string) =>
  h.request(path, {
    method,
    headers: { ...auth(token), ...(body === undefined ? {} : json) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe("admin API authentication", () => {
  it("refuses a missing or wrong bearer token with 401 and audits the attempt", async () => {
    const before = h.audit.events.length;
    const none = await h.request("/v1/admin/publishers");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="trustpub-admin"');
    expect(none.body).toMatchObject({ error: "invalid_client", reason: "unauthorized" });
    const wrong = await admin("GET", "/v1/admin/publishers", undefined, OTHER_TOKEN);
    expect(wrong.status).toBe(401);
    const events = h.audit.events.slice(before);
    expect(events.map((e) => [e.type, e.action, e.outcome, e.reason])).toEqual([
      ["trustpub.admin", "authenticate", "refused", "unauthorized"],
      ["trustpub.admin", "authenticate", "refused", "unauthorized"],
    ]);
    expect(JSON.stringify(events)).not.toContain(OTHER_TOKEN);
  });

  it("refuses a token that is only a prefix, or the hash itself", async () => {
    expect(
      (await admin("GET", "/v1/admin/publishers", undefined, ADMIN_TOKEN.slice(0, -1))).status,
    ).toBe(401);
    expect(
      (await admin("GET", "/v1/admin/publishers", undefined, sha256(ADMIN_TOKEN))).status,
    ).toBe(401);
  });
});

describe("admin publishers", () => {
  it("are part of readiness: ready once the shared publishers have loaded", async () => {
    const res = await fetch(`${h.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ checks: { publishers: "ok", replay_store: "ok" } });
  });

  it("lists the file's publishers as read-only", async () => {
    const res = await admin("GET", "/v1/admin/publishers");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const list = res.body.publishers as { publisher: { id: string }; source: string }[];
    expect(list.map((e) => [e.publisher.id, e.source])).toEqual([
      ["acme-demo-release", "file"],
      ["acme-demo-gitlab", "file"],
    ]);
    const put = await admin("PUT", "/v1/admin/publishers/acme-demo-release", toolsPublisher);
    expect(put.status).toBe(409);
    expect(put.body.reason).toBe("conflict");
    expect((await admin("DELETE", "/v1/admin/publishers/acme-demo-gitlab")).status).toBe(409);
  });

  it("refuses an invalid publisher with every problem and its path, saving nothing", async () => {
    const keysBefore = await h.storedKeys();
    const before = h.audit.events.length;
    const res = await admin("PUT", "/v1/admin/publishers/broken", {
      registry: "no-such-registry",
      ci_issuer: "github",
      match: { repository: ["not", "a", "matcher"] },
      packages: [],
    });
    expect(res.status).toBe(400);
    expect(res.body.reason).toBe("malformed_request");
    expect(res.body.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^publisher\.match\.repository: /),
        expect.stringMatching(/^publisher\.packages: /),
      ]),
    );
    const unknownRef = await admin("PUT", "/v1/admin/publishers/broken", {
      ...toolsPublisher,
      registry: "no-such-registry",
      match: { ...toolsPublisher.match, no_such_shortcut: "x" },
    });
    expect(unknownRef.status).toBe(400);
    expect(unknownRef.body.problems).toEqual(["publisher.registry: no registry with this id"]);
    const badMatcher = await admin("PUT", "/v1/admin/publishers/broken", {
      ...toolsPublisher,
      match: { ...toolsPublisher.match, no_such_shortcut: "x", ref: { regex: "(a+)+$" } },
    });
    expect(badMatcher.status).toBe(400);
    expect(badMatcher.body.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^publisher\.match\.no_such_shortcut: unknown github shortcut/),
        expect.stringMatching(/^publisher\.match\.ref: /),
      ]),
    );
    const otherId = await admin("PUT", "/v1/admin/publishers/broken", {
      ...toolsPublisher,
      id: "other",
    });
    expect(otherId.status).toBe(400);
    expect((await admin("GET", "/v1/admin/publishers/broken")).status).toBe(404);
    expect(await h.storedKeys()).toBe(keysBefore);
    const events = h.audit.events.slice(before);
    expect(events.every((e) => e.action === "put" && e.outcome === "refused")).toBe(true);
    expect(events[0]!.problems?.length).toBeGreaterThan(0);
  });

  it("saves a publisher that exchanges at once, replaces it, and deletes it", async () => {
    const ci = () => h.githubToken(toolsClaims);
    const keysBefore = await h.storedKeys();
    const refused = await h.exchange(await ci());
    expect(refused.status).toBe(403);
    expect(refused.body.reason).toBe("no_matching_publisher");
    expect(refused.body.token).toBeUndefined();
    expect(await h.storedKeys()).toBe(keysBefore);

    const before = h.audit.events.length;
    const created = await admin("PUT", "/v1/admin/publishers/acme-tools", toolsPublisher);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      source: "admin",
      publisher: { id: "acme-tools", ...toolsPublisher },
    });
    const got = await admin("GET", "/v1/admin/publishers/acme-tools");
    expect(got.body).toEqual(created.body);

    const ok = await h.exchange(await ci());
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ publishers: ["acme-tools"], packages: ["@acme/tools"] });

    const replaced = await admin("PUT", "/v1/admin/publishers/acme-tools", {
      ...toolsPublisher,
      packages: ["@acme/tools", "@acme/tools-cli"],
    });
    expect(replaced.status).toBe(200);
    expect((await h.exchange(await ci())).body.packages).toEqual([
      "@acme/tools",
      "@acme/tools-cli",
    ]);

    expect((await admin("DELETE", "/v1/admin/publishers/acme-tools")).status).toBe(204);
    expect((await admin("DELETE", "/v1/admin/publishers/acme-tools")).status).toBe(404);
    const keysAfterDelete = await h.storedKeys();
    const gone = await h.exchange(await ci());
    expect(gone.status).toBe(403);
    expect(gone.body.reason).toBe("no_matching_publisher");
    expect(gone.body.token).toBeUndefined();
    expect(await h.storedKeys()).toBe(keysAfterDelete);

    const events = h.audit.events.slice(before).filter((e) => e.type === "trustpub.admin");
    expect(events.map((e) => [e.action, e.outcome, e.publisher, e.change])).toEqual([
      ["put", "success", "acme-tools", "created"],
      ["put", "success", "acme-tools", "replaced"],
      ["delete", "success", "acme-tools", undefined],
    ]);
    expect(events[0]!.actor).toBe(sha256(ADMIN_TOKEN).slice(0, 12));
  });

  it("keeps admin publishers in Redis with a version counter", async () => {
    await admin("PUT", "/v1/admin/publishers/acme-stored", toolsPublisher);
    const client = h.redis!.client();
    const stored = await client.hget("trustpub:{publishers}:specs", "acme-stored");
    expect(JSON.parse(stored!)).toMatchObject({ id: "acme-stored", registry: "npm-internal" });
    expect(Number(await client.get("trustpub:{publishers}:version"))).toBeGreaterThan(0);
    await admin("DELETE", "/v1/admin/publishers/acme-stored");
    expect(await client.hget("trustpub:{publishers}:specs", "acme-stored")).toBeNull();
  });
});

describe("a second replica", () => {
  let replica: RunningServer;
  beforeAll(async () => {
    replica = await startServer({
      config: h.config,
      env: {},
      port: 0,
      host: "127.0.0.1",
      logger: silentLogger,
      audit: memoryAudit(),
    });
    // Ready means its Redis answers and the shared publishers have loaded once.
    await waitReady(replica.url);
  });
  afterAll(async () => {
    await replica?.shutdown();
  });

  it("sees a change made on another replica within 5 seconds", async () => {
    const ci = await h.githubToken({ ...toolsClaims });
    const on = (path: string) => fetch(`${replica.url}${path}`, { headers: auth() });
    expect((await on("/v1/admin/publishers/acme-replicated")).status).toBe(404);
    const started = Date.now();
    expect(
      (await admin("PUT", "/v1/admin/publishers/acme-replicated", toolsPublisher)).status,
    ).toBe(201);
    let seen = false;
    while (!seen && Date.now() - started < 5_000) {
      seen = (await on("/v1/admin/publishers/acme-replicated")).status === 200;
      if (!seen) await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toBe(true);
    const res = await fetch(`${replica.url}/v1/exchange`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ token: ci }),
    });
    expect(res.status).toBe(200);

    await admin("DELETE", "/v1/admin/publishers/acme-replicated");
    const deleted = Date.now();
    let gone = false;
    while (!gone && Date.now() - deleted < 5_000) {
      gone = (await on("/v1/admin/publishers/acme-replicated")).status === 404;
      if (!gone) await new Promise((r) => setTimeout(r, 100));
    }
    expect(gone).toBe(true);
  });
});

describe("POST /v1/admin/explain", () => {
  it("shows per publisher which keys passed and failed, without consuming the token", async () => {
    const ci = await h.githubToken({ environment: "staging", ref: "refs/heads/main" });
    const keysBefore = await h.storedKeys();
    const res = await admin("POST", "/v1/admin/explain", { token: ci });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      verified: true,
      issuer: "github",
      registry: "npm-internal",
      reason: "no_matching_publisher",
      replayed: false,
    });
    const [publisher] = res.body.publishers as {
      id: string;
      matches: boolean;
      checks: { key: string; ok: boolean; why?: string; expected?: unknown; actual?: unknown }[];
    }[];
    expect(publisher!.id).toBe("acme-demo-release");
    expect(publisher!.matches).toBe(false);
    const byKey = Object.fromEntries(publisher!.checks.map((c) => [c.key, c]));
    expect(byKey.repository).toMatchObject({
      ok: true,
      expected: "acme/demo",
      actual: "acme/demo",
    });
    expect(byKey.environment).toMatchObject({
      ok: false,
      why: "mismatch",
      expected: "release",
      actual: "staging",
    });
    expect(byKey.ref).toMatchObject({
      ok: false,
      expected: { glob: "refs/tags/v*" },
      actual: "refs/heads/main",
    });
    expect(await h.storedKeys()).toBe(keysBefore);
  });

  it("explains a token that would succeed and still lets it be exchanged once", async () => {
    const ci = await h.githubToken();
    const keysBefore = await h.storedKeys();
    const first = await admin("POST", "/v1/admin/explain", { token: ci, packages: ["@acme/demo"] });
    expect(first.body).toMatchObject({
      verified: true,
      replayed: false,
      grant: { packages: ["@acme/demo"], permissions: ["publish"], scope: "publish:@acme/demo" },
    });
    expect(first.body.reason).toBeUndefined();
    expect((await admin("POST", "/v1/admin/explain", { token: ci })).body.reason).toBeUndefined();
    expect(await h.storedKeys()).toBe(keysBefore);
    expect((await h.exchange(ci)).status).toBe(200);
    const after = await admin("POST", "/v1/admin/explain", { token: ci });
    expect(after.body).toMatchObject({ replayed: true, reason: "replayed_token" });
  });

  it("reports where verification stops", async () => {
    const forged = await h.githubToken({ iss: "https://token.actions.githubusercontent.com" });
    const res = await admin("POST", "/v1/admin/explain", { token: forged });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      verified: false,
      reason: "untrusted_issuer",
      description: "the token's issuer is not trusted",
    });
    const wrongAud = await admin("POST", "/v1/admin/explain", {
      token: await h.githubToken({ aud: "elsewhere" }),
    });
    expect(wrongAud.body).toMatchObject({ verified: true, reason: "invalid_claims" });
    const event = await admin("POST", "/v1/admin/explain", {
      token: await h.githubToken({ event_name: "pull_request_target" }),
    });
    expect(event.body).toMatchObject({ verified: true, reason: "forbidden_event" });
  });

  it("needs the admin token", async () => {
    const ci = await h.githubToken();
    const res = await h.post("/v1/admin/explain", { token: ci });
    expect(res.status).toBe(401);
    expect((await h.exchange(ci)).status).toBe(200);
  });

  it("is an audit event that holds no token", async () => {
    const ci = await h.githubToken({ aud: NPM_AUDIENCE });
    const before = h.audit.events.length;
    await admin("POST", "/v1/admin/explain", { token: ci });
    const events = h.audit.events.slice(before);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: "trustpub.admin",
      action: "explain",
      outcome: "success",
    });
    expect(JSON.stringify(events)).not.toContain(ci);
  });
});

describe("without Redis", () => {
  it("keeps admin publishers in memory for this process", async () => {
    const local = await startHarness({
      redis: false,
      configure: (config) => {
        config.admin = { token_sha256: [sha256(ADMIN_TOKEN)] };
      },
    });
    try {
      const put = await local.request("/v1/admin/publishers/acme-tools", {
        method: "PUT",
        headers: { ...auth(), ...json },
        body: JSON.stringify(toolsPublisher),
      });
      expect(put.status).toBe(201);
      const ok = await local.exchange(await local.githubToken(toolsClaims));
      expect(ok.status).toBe(200);
    } finally {
      await local.close();
    }
  });

  it("turns the admin API off when no admin token hash is configured", async () => {
    const local = await startHarness({ redis: false });
    try {
      const res = await local.request("/v1/admin/publishers", { headers: auth() });
      expect(res.status).toBe(401);
      expect(res.body.error_description).toMatch(/no admin\.token_sha256/);
    } finally {
      await local.close();
    }
  });
});
