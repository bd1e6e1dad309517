import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness, TRUSTPUB_ISSUER } from "../support/harness.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook.js";

const ADMIN_TOKEN = "admin-webhook-test-token-0123456789abcdef";
const WEBHOOK_TOKEN = "siem-ingest-token-9f8e7d6c5b4a";

let h: Harness;
let receiver: WebhookReceiver;
let dir: string;

const metric = async (pattern: RegExp): Promise<number> => {
  const text = await (await fetch(`${h.url}/metrics`)).text();
  const match = pattern.exec(text);
  return match ? Number(match[1]) : 0;
};
const delivered = () =>
  metric(/^trustpub_audit_webhook_events_total\{outcome="delivered"\} (\d+)/m);
const eventually = async (check: () => Promise<boolean>, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 25));
  }
};

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  dir = await mkdtemp(join(tmpdir(), "trustpub-webhook-"));
  await writeFile(join(dir, "webhook.token"), `${WEBHOOK_TOKEN}\n`);
  h = await startHarness({
    configDir: dir,
    configure: (config) => {
      config.admin = { token_sha256: [createHash("sha256").update(ADMIN_TOKEN).digest("hex")] };
      config.audit = {
        webhook: receiver.url,
        webhook_token_file: "webhook.token",
        queue_size: 3,
        timeout: "1s",
        max_attempts: 4,
        retry_backoff: "50ms",
      };
    },
  });
});
afterAll(async () => {
  receiver?.release();
  await h?.close();
  await receiver?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("audit events as CloudEvents", () => {
  it("POSTs each exchange attempt as a CloudEvents 1.0 JSON event, never with a token", async () => {
    const ci = await h.githubToken();
    const ok = await h.exchange(ci);
    expect(ok.status).toBe(200);
    const replay = await h.exchange(ci);
    expect(replay.status).toBe(409);
    await receiver.waitFor(2);
    const [success, refused] = receiver.received;
    expect(success!.headers["content-type"]).toBe("application/cloudevents+json");
    expect(success!.headers.authorization).toBe(`Bearer ${WEBHOOK_TOKEN}`);
    expect(success!.body).toMatchObject({
      specversion: "1.0",
      source: TRUSTPUB_ISSUER,
      type: "trustpub.exchange",
      subject: "acme-demo-release",
      datacontenttype: "application/json",
      data: {
        outcome: "success",
        registry: "npm-internal",
        publishers: ["acme-demo-release"],
        ci: {
          issuer: "github",
          repository: "acme/demo",
          workflow: expect.any(String),
          ref: "refs/tags/v1.2.3",
          sha: expect.any(String),
          run_id: "9876543210",
        },
        issued: { jti: expect.any(String), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      },
    });
    expect(success!.body.id).toEqual(expect.any(String));
    expect(success!.body.time).toEqual(expect.any(String));
    expect(refused!.body).toMatchObject({ data: { outcome: "refused", reason: "replayed_token" } });
    expect(refused!.body.id).not.toBe(success!.body.id);
    const all = JSON.stringify(receiver.received.map((r) => r.body));
    expect(all).not.toContain(ci);
    expect(all).not.toContain(ok.body.token as string);
  });

  it("sends admin changes too", async () => {
    const before = receiver.received.length;
    const res = await h.request("/v1/admin/publishers/acme-webhook", {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(404);
    const put = await h.request("/v1/admin/publishers/acme-webhook", {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({
        registry: "npm-internal",
        ci_issuer: "github",
        match: { repository: "acme/webhook", repository_owner_id: "1234567" },
        packages: ["@acme/webhook"],
      }),
    });
    expect(put.status).toBe(201);
    await receiver.waitFor(before + 1);
    expect(receiver.received.at(-1)!.body).toMatchObject({
      type: "trustpub.admin",
      subject: "acme-webhook",
      data: { action: "put", outcome: "success", change: "created", publisher: "acme-webhook" },
    });
  });

  it("retries 5xx with backoff, keeping the event id, until the webhook takes it", async () => {
    const start = receiver.received.length;
    const deliveredBefore = await delivered();
    receiver.script(503, 500);
    expect((await h.exchange(await h.githubToken())).status).toBe(200);
    await receiver.waitFor(start + 3);
    const attempts = receiver.received.slice(start, start + 3);
    expect(new Set(attempts.map((a) => a.body.id)).size).toBe(1);
    await eventually(async () => (await delivered()) === deliveredBefore + 1);
    expect(await metric(/^trustpub_audit_webhook_events_total\{outcome="retried"\} (\d+)/m)).toBe(
      2,
    );
  });

  it("gives up on an event the webhook refuses with a 4xx, without retrying", async () => {
    const start = receiver.received.length;
    receiver.script(400);
    expect((await h.exchange(await h.githubToken())).status).toBe(200);
    await receiver.waitFor(start + 1);
    await eventually(
      async () =>
        (await metric(/^trustpub_audit_webhook_events_total\{outcome="failed"\} (\d+)/m)) === 1,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.received.length).toBe(start + 1);
  });

  it("never makes an exchange wait for a stalled webhook; the bounded queue drops and counts", async () => {
    const start = receiver.received.length;
    receiver.fallback = "stall";
    try {
      const tokens = await Promise.all(Array.from({ length: 8 }, () => h.githubToken()));
      for (const ci of tokens) {
        const res = await h.exchange(ci);
        expect(res.status).toBe(200);
      }
      // Every exchange answered while the webhook still held its first request unanswered.
      await receiver.waitFor(start + 1);
      expect(receiver.stalled()).toBe(1);
      // One event in flight, three queued (queue_size), four dropped and counted.
      expect(await metric(/^trustpub_audit_webhook_events_total\{outcome="dropped"\} (\d+)/m)).toBe(
        4,
      );
      expect(await metric(/^trustpub_audit_webhook_queue_size (\d+)/m)).toBe(4);
      // The stdout (here: memory) audit stream still has every attempt.
      expect(
        h.audit.events.filter((e) => e.type === "trustpub.exchange").length,
      ).toBeGreaterThanOrEqual(12);
    } finally {
      receiver.fallback = 200;
      receiver.release();
    }
  });
});
