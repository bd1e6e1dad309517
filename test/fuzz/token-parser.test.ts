import fc from "fast-check";
import { CompactSign, exportJWK, generateKeyPair, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { CiIssuerConfig } from "../../src/config/schema.js";
import { isTrustpubError, type Reason } from "../../src/errors.js";
import { buildIssuerDirectory, type IssuerDirectory } from "../../src/issuers/directory.js";
import { verifyCiToken } from "../../src/issuers/verify.js";
import { silentLogger } from "../../src/telemetry/logger.js";
import { params, timeoutFor, within } from "./settings.js";

const ISS = "https://token.actions.githubusercontent.com";
const NOW = 1_800_000_000_000;
const clock = { now: () => NOW };
const policy = { clockSkewMs: 30_000, maxTokenAgeMs: 900_000 };
/** What verifying a CI token may answer (SPEC section 5); anything else is a bug. */
const DOCUMENTED: ReadonlySet<Reason> = new Set([
  "malformed_token",
  "untrusted_issuer",
  "invalid_signature",
  "invalid_claims",
  "missing_claim",
]);

let directory: IssuerDirectory;
let privateKey: CryptoKey;
let kid: string;
const outbound: string[] = [];

beforeAll(async () => {
  const pair = await generateKeyPair("ES256", { extractable: true });
  privateKey = pair.privateKey;
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "fuzz-key", use: "sig" };
  kid = jwk.kid!;
  const issuer = {
    url: ISS,
    provider: "github",
    algorithms: ["ES256"],
    allow_http: false,
    require_jti: true,
    allow_events: [],
  } as unknown as CiIssuerConfig;
  directory = buildIssuerDirectory(
    { github: issuer },
    { github: [jwk] },
    {
      fetch: async (url) => {
        outbound.push(url);
        throw new Error("no network in this test");
      },
      clock,
      logger: silentLogger,
    },
  );
});

/** Verifies and classifies: "ok", or the refusal's reason; throws on anything undocumented. */
async function classify(token: string): Promise<string> {
  try {
    await within(2_000, "verifying a token", () => verifyCiToken(token, directory, policy, clock));
    return "ok";
  } catch (err) {
    if (isTrustpubError(err) && DOCUMENTED.has(err.reason)) return err.reason;
    throw err;
  }
}

const b64 = (value: string | Uint8Array) => Buffer.from(value).toString("base64url");
const segment = fc.oneof(
  fc.uint8Array({ maxLength: 512 }).map(b64),
  fc.string({ maxLength: 64 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => b64(JSON.stringify(v) ?? "null")),
  fc.constantFrom("", "=", "==", "+/", " ", "\u0000", "%00", "a.b"),
);
const headerish = fc.record(
  {
    alg: fc.oneof(
      fc.constantFrom("ES256", "RS256", "HS256", "none", "nOnE", "EdDSA"),
      fc.jsonValue(),
    ),
    kid: fc.oneof(fc.constant("fuzz-key"), fc.string({ maxLength: 300 }), fc.jsonValue()),
    typ: fc.oneof(fc.constantFrom("JWT", "at+jwt", "application/at+jwt"), fc.jsonValue()),
    crit: fc.array(fc.string(), { maxLength: 3 }),
    b64: fc.boolean(),
    cty: fc.constantFrom("JWT", "jwt", "json"),
    jku: fc.webUrl(),
    jwk: fc.object({ maxDepth: 2 }),
    x5c: fc.array(fc.base64String(), { maxLength: 2 }),
    enc: fc.constantFrom("A128GCM"),
  },
  { requiredKeys: [] },
);
const claimValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ maxLength: 40 }));
const claimsish = fc.record(
  {
    iss: fc.oneof(fc.constant(ISS), fc.constant(`${ISS}/`), fc.webUrl(), claimValue),
    aud: fc.oneof(
      fc.constant("npm:registry.test"),
      fc.array(fc.string(), { maxLength: 3 }),
      claimValue,
    ),
    exp: fc.oneof(fc.constant(NOW / 1000 + 300), fc.integer(), fc.double(), claimValue),
    iat: fc.oneof(fc.constant(NOW / 1000 - 10), fc.integer(), fc.double(), claimValue),
    nbf: fc.oneof(fc.constant(NOW / 1000 - 10), fc.integer(), claimValue),
    jti: fc.oneof(fc.uuid(), fc.string({ maxLength: 300 }), claimValue),
    repository: fc.oneof(fc.constant("acme/demo"), claimValue),
    repository_owner_id: fc.oneof(fc.constant("1234567"), claimValue),
    job_workflow_ref: fc.oneof(
      fc.constant("acme/demo/.github/workflows/release.yml@refs/tags/v1"),
      claimValue,
    ),
    sha: fc.oneof(fc.stringMatching(/^[0-9a-f]{40}$/), claimValue),
  },
  { requiredKeys: [] },
);

describe("fuzz: the CI token parser", () => {
  it(
    "answers random text with a documented refusal, never a crash or a hang",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.string({ maxLength: 2048 }), fc.string({ unit: "binary", maxLength: 512 })),
          async (text) => {
            expect(await classify(text)).not.toBe("ok");
          },
        ),
        params(),
      );
    },
    timeoutFor(),
  );

  it(
    "answers three random segments, and 5-part or long tokens, with a documented refusal",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(segment, { minLength: 1, maxLength: 6 }),
          fc.nat({ max: 20_000 }),
          async (parts, pad) => {
            expect(await classify(parts.join("."))).not.toBe("ok");
            expect(await classify(`${parts.join(".")}${"a".repeat(pad)}`)).not.toBe("ok");
          },
        ),
        params(),
      );
    },
    timeoutFor(),
  );

  it(
    "answers unsigned headers and claims of any shape with a documented refusal",
    async () => {
      await fc.assert(
        fc.asyncProperty(headerish, claimsish, segment, async (header, claims, signature) => {
          const token = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}.${signature}`;
          expect(await classify(token)).not.toBe("ok");
        }),
        params(),
      );
    },
    timeoutFor(),
  );

  it(
    "validates the claims of correctly signed tokens without crashing",
    async () => {
      const seen = new Set<string>();
      await fc.assert(
        fc.asyncProperty(claimsish, async (claims) => {
          const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
            .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
            .sign(privateKey);
          seen.add(await classify(token));
        }),
        params(),
      );
      // The generators reach past the signature into the claim checks.
      expect(
        [...seen].some((r) => r === "invalid_claims" || r === "missing_claim" || r === "ok"),
      ).toBe(true);
      expect(outbound).toEqual([]);
    },
    timeoutFor(),
  );
});
