import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, NPM_AUDIENCE, startHarness } from "../support/harness.js";
import { startIssuer, type TestIssuer } from "../support/issuer.js";
import { IDS, kubernetesClaims } from "../support/provider-claims.js";
import { expectRefused, issuedPayload } from "../support/refusal.js";

/** A private cluster's issuer: not reachable, so its keys are configured statically. */
const CLUSTER = "https://kubernetes.default.svc.cluster.local";

let h: Harness;
let cluster: TestIssuer;

beforeAll(async () => {
  cluster = await startIssuer(); // only its keys are used: nothing may ever fetch from it
  h = await startHarness({
    configure(config) {
      (config.ci_issuers as Record<string, unknown>).k8s = {
        url: CLUSTER,
        provider: "kubernetes",
        jwks: { keys: [cluster.key.publicJwk] },
      };
      (config.publishers as unknown[]).push({
        id: "acme-demo-k8s",
        registry: "npm-internal",
        ci_issuer: "k8s",
        match: {
          namespace: "release",
          service_account: "publisher",
          service_account_uid: IDS.kubernetes.serviceAccount,
        },
        packages: ["@acme/demo"],
      });
    },
  });
});
afterAll(async () => {
  await h?.close();
  await cluster?.stop();
});

const HOUR = 3600;
const token = (overrides?: Record<string, unknown>) =>
  cluster.sign(kubernetesClaims(CLUSTER, NPM_AUDIENCE, overrides));
const nested = (edit: (k: Record<string, unknown>) => void) => {
  const k = structuredClone(kubernetesClaims(CLUSTER, NPM_AUDIENCE)["kubernetes.io"]) as Record<
    string,
    unknown
  >;
  edit(k);
  return { "kubernetes.io": k };
};

describe("kubernetes", () => {
  it("exchanges a projected token (aud array, nested claims) with a static JWKS and no fetch", async () => {
    cluster.resetCounts();
    const res = await h.exchange(await token());
    expect(res.status).toBe(200);
    const payload = await issuedPayload(h, res.body.token as string);
    expect(payload.sub).toBe("ci:k8s:system:serviceaccount:release:publisher");
    expect(payload.act).toMatchObject({
      iss: CLUSTER,
      namespace: "release",
      service_account: "publisher",
      service_account_uid: IDS.kubernetes.serviceAccount,
      pod: "publisher-5d8f7c9b4-x2k9q",
    });
    expect(cluster.requests.total).toBe(0);
  });

  it("refuses a token bound to no pod (kubectl create token)", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token(nested((k) => delete k.pod))),
      403,
      "forbidden_event",
    );
  });

  it("refuses a re-created service account (same name, new uid)", async () => {
    const recreated = nested((k) => {
      k.serviceaccount = { name: "publisher", uid: "0a1b2c3d-0000-4000-8000-000000000000" };
    });
    await expectRefused(
      h,
      async () => h.exchange(await token(recreated)),
      403,
      "no_matching_publisher",
    );
  });

  it("refuses a sub that disagrees with the nested claims, and a missing serviceaccount uid", async () => {
    await expectRefused(
      h,
      async () => h.exchange(await token({ sub: "system:serviceaccount:release:other" })),
      401,
      "missing_claim",
    );
    const res = await expectRefused(
      h,
      async () =>
        h.exchange(
          await token(nested((k) => delete (k.serviceaccount as Record<string, unknown>).uid)),
        ),
      401,
      "missing_claim",
    );
    expect(res.body.error_description).toContain("kubernetes.io.serviceaccount.uid");
  });

  it("holds a token with expirationSeconds of a year to max_token_age from iat", async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(
      h,
      async () =>
        h.exchange(await token({ iat: now - HOUR, nbf: now - HOUR, exp: now + 365 * 24 * HOUR })),
      401,
      "invalid_claims",
    );
  });

  it("refuses a token for the API server as well as for the registry", async () => {
    await expectRefused(
      h,
      async () =>
        h.exchange(await token({ aud: [NPM_AUDIENCE, "https://kubernetes.default.svc"] })),
      401,
      "invalid_claims",
    );
  });

  it("refuses a legacy secret-based token (no exp, flat claims)", async () => {
    await expectRefused(
      h,
      async () =>
        h.exchange(
          await cluster.sign({
            iss: CLUSTER,
            aud: [NPM_AUDIENCE],
            sub: "system:serviceaccount:release:publisher",
            "kubernetes.io/serviceaccount/namespace": "release",
            iat: Math.floor(Date.now() / 1000),
          }),
        ),
      401,
      "missing_claim",
    );
  });
});
