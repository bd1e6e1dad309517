import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, NPM_AUDIENCE, startHarness } from "../support/harness.js";
import { startIssuer, type TestIssuer } from "../support/issuer.js";
import { googleClaims, IDS } from "../support/provider-claims.js";
import { expectRefused, issuedPayload } from "../support/refusal.js";

let h: Harness;
let g: TestIssuer;

beforeAll(async () => {
  // Stands for https://accounts.google.com.
  g = await startIssuer();
  h = await startHarness({
    configure(config) {
      (config.ci_issuers as Record<string, unknown>).google = {
        url: g.url,
        provider: "google",
        allow_http: true,
      };
      (config.publishers as unknown[]).push({
        id: "acme-demo-gcb",
        registry: "npm-internal",
        ci_issuer: "google",
        match: { email: "Release@acme-build.iam.gserviceaccount.com", sub: IDS.google.sub },
        packages: ["@acme/demo"],
      });
    },
  });
});
afterAll(async () => {
  await h?.close();
  await g?.stop();
});

const token = (overrides?: Record<string, unknown>) =>
  g.sign(googleClaims(g.url, NPM_AUDIENCE, overrides));

describe("google", () => {
  it("exchanges a service account's ID token", async () => {
    const res = await h.exchange(await token());
    expect(res.status).toBe(200);
    const payload = await issuedPayload(h, res.body.token as string);
    expect(payload.sub).toBe(`ci:google:${IDS.google.sub}`);
    expect(payload.act).toMatchObject({
      email: "release@acme-build.iam.gserviceaccount.com",
      sub: IDS.google.sub,
    });
  });

  it("refuses an unverified email, and email_verified sent as a string", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token({ email_verified: false })),
      403,
      "forbidden_event",
    );
    await expectRefused(
      h,
      async () => h.exchange(await token({ email_verified: "true" })),
      401,
      "missing_claim",
    );
  });

  it("refuses a person's account by default", async () => {
    await expectRefused(
      h,
      async () =>
        h.exchange(
          await token({ email: "release@acme-build.iam.gserviceaccount.com.evil.example" }),
        ),
      403,
      "forbidden_event",
    );
    await expectRefused(
      h,
      async () => h.exchange(await token({ email: "octocat@gmail.com" })),
      403,
      "forbidden_event",
    );
  });

  it("refuses a deleted and re-created service account (same email, new sub)", async () => {
    await expectRefused(
      h,
      async () =>
        h.exchange(await token({ sub: "104928371234509871234", azp: "104928371234509871234" })),
      403,
      "no_matching_publisher",
    );
  });
});
