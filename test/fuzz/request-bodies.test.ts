import fc from "fast-check";
import { exportJWK, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/load.js";
import { memoryReplayStore } from "../../src/replay/memory.js";
import { buildServices } from "../../src/services.js";
import { memoryAudit } from "../../src/telemetry/audit.js";
import { memoryLogger } from "../../src/telemetry/logger.js";
import { params, timeoutFor, within } from "./settings.js";

/** Every status an exchange endpoint may answer garbage with (SPEC section 5). */
const STATUSES = new Set([400, 401, 403, 409, 413, 415, 429]);
const REASONS = new Set([
  "malformed_request",
  "malformed_token",
  "untrusted_issuer",
  "invalid_signature",
  "invalid_claims",
  "missing_claim",
  "invalid_target",
  "no_matching_publisher",
  "forbidden_event",
  "scope_exceeded",
  "replayed_token",
  "rate_limited",
]);

let app: ReturnType<typeof createApp>;
const logs = memoryLogger();
const outbound: string[] = [];

beforeAll(async () => {
  const { publicKey } = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k", use: "sig" };
  const loaded = await loadConfig(
    {
      issuer: "https://sts.example.com",
      limits: { body_bytes: 4096 },
      rate_limits: { enabled: false },
      ci_issuers: {
        github: {
          url: "https://token.actions.githubusercontent.com",
          provider: "github",
          jwks: { keys: [jwk] },
        },
      },
      registries: {
        npm: {
          flavor: "npm",
          audience: "npm:registry.example",
          token_audience: "https://registry.example",
        },
      },
      publishers: [],
    },
    {},
    { readText: () => Promise.reject(new Error("no files")) },
  );
  const clock = { now: () => Date.now() };
  const services = await buildServices(loaded, {
    fetch: async (url) => {
      outbound.push(url);
      throw new Error("no network in this test");
    },
    clock,
    logger: logs,
    audit: memoryAudit(),
    replay: memoryReplayStore(clock),
  });
  app = createApp({ services: () => services, clientAddress: () => "127.0.0.1" });
});

const contentType = fc.oneof(
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/x-www-form-urlencoded",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/jwt",
    "",
  ),
  fc.string({ maxLength: 40 }),
);
const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v) ?? ""),
  fc
    .record(
      {
        token: fc.oneof(fc.string({ maxLength: 200 }), fc.jsonValue(), fc.constant("a.b.c")),
        packages: fc.oneof(
          fc.array(fc.string({ maxLength: 30 }), { maxLength: 5 }),
          fc.jsonValue(),
        ),
        permissions: fc.oneof(
          fc.array(fc.constantFrom("publish", "read", "yank", "admin")),
          fc.jsonValue(),
        ),
        extra: fc.jsonValue(),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc.constantFrom(
    '{"token":"a","token":"b"}',
    '{"token":"\\u0000"}',
    "[]",
    "null",
    "{",
    '{"token":1}',
    "\u0000",
  ),
);
const formish = fc
  .dictionary(
    fc.constantFrom(
      "grant_type",
      "subject_token",
      "subject_token_type",
      "audience",
      "resource",
      "scope",
      "actor_token",
      "x",
    ),
    fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.constantFrom(
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "urn:ietf:params:oauth:token-type:id_token",
      ),
    ),
  )
  .map((d) => new URLSearchParams(d).toString());
const body = fc.oneof(
  jsonish.map((text) => new TextEncoder().encode(text)),
  formish.map((text) => new TextEncoder().encode(text)),
  fc.uint8Array({ maxLength: 6000 }),
  fc.nat({ max: 20_000 }).map((n) => new TextEncoder().encode(`{"token":"${"a".repeat(n)}"}`)),
);

describe("fuzz: request bodies", () => {
  it(
    "every exchange endpoint answers garbage with a documented refusal, never a 500 or a hang",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom("/v1/exchange", "/token"),
          contentType,
          body,
          async (path, type, bytes) => {
            const headers: Record<string, string> = type ? { "content-type": type } : {};
            const res = await within(2_000, `POST ${path}`, () =>
              Promise.resolve(app.request(path, { method: "POST", headers, body: bytes })),
            );
            const text = await res.text();
            expect(STATUSES.has(res.status), `${res.status} ${text}`).toBe(true);
            const parsed = JSON.parse(text) as { reason?: string; error?: string };
            expect(REASONS.has(parsed.reason ?? ""), text).toBe(true);
            expect(typeof parsed.error).toBe("string");
            expect(res.headers.get("cache-control")).toBe("no-store");
          },
        ),
        params(),
      );
      expect(outbound).toEqual([]);
      expect(logs.records.filter((r) => r.level === "error")).toEqual([]);
    },
    timeoutFor(),
  );
});
