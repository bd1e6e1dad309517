import { KeyObject, sign as nodeSign } from "node:crypto";
import { CompactSign, decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type ClaimOverrides, githubClaims, gitlabClaims } from "../support/claims.js";
import { b64url } from "../support/forge.js";
import {
  type Harness,
  type HttpAnswer,
  NPM_AUDIENCE,
  PYPI_AUDIENCE,
  startHarness,
  TRUSTPUB_ISSUER,
} from "../support/harness.js";

/*
 * Section B of the security cases: tokens the issuer really signed, whose
 * claims try to slip past the policy. Each refusal is 401 or 403 with its
 * reason, issues nothing and writes no JTI. Where a variant should pass, it
 * is asserted too, so a refusal cannot come from a broken fixture.
 *
 * The default publisher (acme-demo-release, npm registry, GitHub issuer):
 *   repository acme/demo, repository_owner_id 1234567, workflow release.yml,
 *   environment release, ref { glob: refs/tags/v* }, packages @acme/demo and @acme/demo-*.
 * The GitLab publisher (acme-demo-gitlab) serves the PyPI registry only.
 * Defaults: clock skew 30 s, max token age 15 min.
 */

const GITHUB_COM = "https://token.actions.githubusercontent.com";
const workflowRef = (repository: string, file = "release.yml", ref = "refs/tags/v1.2.3") =>
  `${repository}/.github/workflows/${file}@${ref}`;

async function expectRefused(
  h: Harness,
  token: string,
  status: number,
  reason: string,
  extra?: Record<string, unknown>,
): Promise<HttpAnswer> {
  const before = await h.storedKeys();
  const res = await h.exchange(token, extra);
  expect(res.status, `${reason}: ${res.text}`).toBe(status);
  expect(res.body.reason).toBe(reason);
  expect(res.body.token).toBeUndefined();
  expect(await h.storedKeys()).toBe(before);
  return res;
}

async function expectExchanged(
  h: Harness,
  token: string,
  extra?: Record<string, unknown>,
): Promise<HttpAnswer> {
  const before = await h.storedKeys();
  const res = await h.exchange(token, extra);
  expect(res.status, res.text).toBe(200);
  expect(typeof res.body.token).toBe("string");
  expect(await h.storedKeys()).toBe(before + 1);
  return res;
}

/** A GitHub token whose workflow_ref and job_workflow_ref follow `repository`, as GitHub's do. */
function githubAs(h: Harness, repository: string, overrides: ClaimOverrides = {}): Promise<string> {
  return h.githubToken({
    repository,
    repository_owner: repository.split("/")[0],
    workflow_ref: workflowRef(repository),
    job_workflow_ref: workflowRef(repository),
    ...overrides,
  });
}

/**
 * Records every fetch the process makes to anything but trustpub itself. The server runs in this
 * process and fetches issuer documents through the global `fetch`, so this sees each outbound
 * request it attempts, even to hosts nothing here could answer for. Calls pass through unchanged.
 */
function recordOutbound(own: string): { urls: string[]; restore(): void } {
  const original = globalThis.fetch;
  const urls: string[] = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.startsWith(own)) urls.push(url);
    return original(input, init);
  });
  return { urls, restore: () => spy.mockRestore() };
}

type Config = Record<string, unknown>;
const publishersOf = (config: Config) => config.publishers as Config[];
const matchOf = (publisher: Config) => publisher.match as Config;

describe("B. policy bypass", () => {
  let h: Harness;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    h = await startHarness();
    await expectExchanged(h, await h.githubToken());
  });
  afterAll(async () => {
    await h?.close();
  });

  it("12. aud missing, wrong, or an array holding the right value and another is refused", async () => {
    const audiences: unknown[] = [
      undefined,
      "",
      "npm:registry.evil",
      "https://registry.test", // the npm registry's token_audience, not its CI audience
      [NPM_AUDIENCE, "https://evil.example"],
      [NPM_AUDIENCE, PYPI_AUDIENCE],
      [NPM_AUDIENCE, NPM_AUDIENCE],
      [],
      42,
    ];
    for (const aud of audiences) {
      const res = await expectRefused(h, await h.githubToken({ aud }), 401, "invalid_claims");
      expect(res.body.error_description, JSON.stringify(aud)).toMatch(/audience/);
    }
  });

  it("14. exp past beyond the skew, nbf or iat in the future beyond it, iat older than max_token_age: refused; within the skew: passes", async () => {
    const t = now();
    const refused: [ClaimOverrides, RegExp][] = [
      [{ iat: t - 120, nbf: t - 120, exp: t - 60 }, /expired/],
      [{ nbf: t + 90 }, /nbf/],
      [{ iat: t + 90, nbf: t }, /future/],
      [{ iat: t - 15 * 60 - 90, nbf: t - 15 * 60 - 90, exp: t + 300 }, /too old/],
    ];
    for (const [times, why] of refused) {
      const res = await expectRefused(h, await h.githubToken(times), 401, "invalid_claims");
      expect(res.body.error_description).toMatch(why);
    }
    // Within the 30 s skew, with 20 s to spare for a slow machine.
    await expectExchanged(h, await h.githubToken({ iat: t - 100, nbf: t - 100, exp: t - 10 }));
    await expectExchanged(h, await h.githubToken({ iat: t + 10, nbf: t + 10 }));
    await expectExchanged(
      h,
      await h.githubToken({ iat: t - 15 * 60 + 10, nbf: t - 15 * 60 + 10, exp: t + 300 }),
    );
  });

  it("15. a required claim missing (jti, repository_owner_id, job_workflow_ref, sha) or of the wrong type is refused", async () => {
    for (const claim of ["jti", "repository_owner_id", "job_workflow_ref", "sha", "exp", "iat"]) {
      const res = await expectRefused(
        h,
        await h.githubToken({ [claim]: undefined }),
        401,
        "missing_claim",
      );
      expect(res.body.error_description).toBe(`claim ${claim} is missing`);
    }
    const wrong: ClaimOverrides[] = [
      { repository: ["acme/demo"] },
      { repository: 123 },
      { repository_owner_id: 1234567 },
      { jti: 42 },
      { sha: "main" },
      { exp: "9999999999" },
    ];
    for (const overrides of wrong) {
      const claim = Object.keys(overrides)[0]!;
      const res = await expectRefused(h, await h.githubToken(overrides), 401, "missing_claim");
      expect(res.body.error_description).toMatch(new RegExp(`^claim ${claim} has the wrong type`));
    }
  });

  it("16. Acme/Demo against policy acme/demo passes on GitHub; the same name with another repository_owner_id is refused", async () => {
    const res = await expectExchanged(h, await githubAs(h, "Acme/Demo"));
    expect(res.body.publishers).toEqual(["acme-demo-release"]);
    await expectExchanged(h, await githubAs(h, "ACME/DEMO"));
    // A new account under the old name: same letters, different immutable id.
    await expectRefused(
      h,
      await githubAs(h, "Acme/Demo", { repository_owner_id: "7654321" }),
      403,
      "no_matching_publisher",
    );
  });

  it("17. look-alike repository or environment values (Cyrillic, full-width, zero-width space, trailing newline) are refused", async () => {
    // The look-alikes keep the real owner id, so only the name check stands between them and the
    // grant. A control character is not a valid claim string at all.
    const repositories: [string, number, string][] = [
      ["\u0430cme/demo", 403, "no_matching_publisher"], // Cyrillic a
      ["acme/d\u0435mo", 403, "no_matching_publisher"], // Cyrillic e
      ["\uff41\uff43\uff4d\uff45/demo", 403, "no_matching_publisher"], // full-width acme
      ["acme/de\u200bmo", 403, "no_matching_publisher"], // zero-width space
      ["acme/demo\u200b", 403, "no_matching_publisher"],
      ["acme/demo ", 403, "no_matching_publisher"],
      ["acme/demo\n", 401, "missing_claim"],
    ];
    for (const [repository, status, reason] of repositories) {
      await expectRefused(h, await githubAs(h, repository), status, reason);
    }
    const environments: [string, number, string][] = [
      ["r\u0435lease", 403, "no_matching_publisher"], // Cyrillic e
      ["\uff52\uff45\uff4c\uff45\uff41\uff53\uff45", 403, "no_matching_publisher"], // full-width
      ["rel\u200bease", 403, "no_matching_publisher"],
      ["release\u200b", 403, "no_matching_publisher"],
      ["release ", 403, "no_matching_publisher"],
      ["release\n", 401, "missing_claim"],
    ];
    for (const [environment, status, reason] of environments) {
      await expectRefused(h, await h.githubToken({ environment }), status, reason);
    }
  });

  it("18. GitHub environment Release against policy release passes; a missing environment is refused", async () => {
    await expectExchanged(h, await h.githubToken({ environment: "Release" }));
    await expectExchanged(h, await h.githubToken({ environment: "RELEASE" }));
    await expectRefused(
      h,
      await h.githubToken({ environment: undefined, sub: "repo:acme/demo:ref:refs/tags/v1.2.3" }),
      403,
      "no_matching_publisher",
    );
  });

  it("19. event_name pull_request_target or workflow_run is refused by default", async () => {
    for (const event_name of ["pull_request_target", "workflow_run"]) {
      // Everything else matches the policy: the event alone is refused.
      const res = await expectRefused(
        h,
        await h.githubToken({ event_name }),
        403,
        "forbidden_event",
      );
      expect(res.body.error_description).toContain(event_name);
      // Their ref is the base branch; a branch-pinned policy would not have stopped them.
      await expectRefused(
        h,
        await h.githubToken({ event_name, ref: "refs/heads/main", ref_type: "branch" }),
        403,
        "forbidden_event",
      );
    }
  });

  it("20. a job_workflow_ref from another repository is refused when the policy does not name that reusable workflow", async () => {
    for (const repository of ["evil/tools", "acme/demo-evil", "acme/other"]) {
      await expectRefused(
        h,
        await h.githubToken({
          job_workflow_ref: workflowRef(repository, "release.yml", "refs/heads/main"),
        }),
        403,
        "no_matching_publisher",
      );
    }
  });

  it("21. workflow evil-release.yml, release.yml.bak, or release.yml only after the @ is refused", async () => {
    const refs = [
      workflowRef("acme/demo", "evil-release.yml"),
      workflowRef("acme/demo", "release.yml.bak"),
      workflowRef("acme/demo", "evil.yml", "refs/heads/release.yml"),
      "acme/demo/.github/workflows/evil.yml@acme/demo/.github/workflows/release.yml",
      workflowRef("acme/demo", "sub/release.yml"),
      workflowRef("evil/demo", "release.yml"),
    ];
    for (const ref of refs) {
      await expectRefused(
        h,
        await h.githubToken({ workflow_ref: ref, job_workflow_ref: ref }),
        403,
        "no_matching_publisher",
      );
    }
  });

  it("22. tag policy refs/tags/v* with a token from branch refs/heads/v1 is refused", async () => {
    const refs: [string, string][] = [
      ["refs/heads/v1", "branch"],
      ["refs/heads/refs/tags/v1", "branch"],
      ["refs/tags/v1/evil", "tag"],
      ["refs/tags/release-v1", "tag"],
    ];
    for (const [ref, ref_type] of refs) {
      await expectRefused(
        h,
        await h.githubToken({
          ref,
          ref_type,
          workflow_ref: workflowRef("acme/demo", "release.yml", ref),
          job_workflow_ref: workflowRef("acme/demo", "release.yml", ref),
        }),
        403,
        "no_matching_publisher",
      );
    }
  });

  it("23. a GitLab project_path equal to a GitHub policy's repository, or GitHub-shaped claims from another configured issuer, are refused", async () => {
    // A real GitLab token for acme/demo, aimed at the registry of the GitHub publisher.
    await expectRefused(
      h,
      await h.gitlabToken({ aud: NPM_AUDIENCE }),
      403,
      "no_matching_publisher",
    );
    // GitHub-shaped claims signed by the GitLab issuer: GitLab's own required claims are absent.
    const res = await expectRefused(
      h,
      await h.gitlab.sign(githubClaims(h.gitlab.url, NPM_AUDIENCE)),
      401,
      "missing_claim",
    );
    expect(res.body.error_description).toMatch(/namespace_id is missing/);
    // Both shapes at once: verified as GitLab, and no GitLab publisher serves the npm registry.
    await expectRefused(
      h,
      await h.gitlab.sign({
        ...gitlabClaims(h.gitlab.url, NPM_AUDIENCE),
        ...githubClaims(h.gitlab.url, NPM_AUDIENCE),
      }),
      403,
      "no_matching_publisher",
    );
    // GitHub-shaped claims naming the GitHub issuer but signed with the GitLab issuer's key.
    await expectRefused(
      h,
      await h.gitlab.sign(githubClaims(h.github.url, NPM_AUDIENCE)),
      401,
      "invalid_signature",
    );
    // The other way round: a GitHub token for acme/demo aimed at the GitLab publisher's registry.
    await expectRefused(
      h,
      await h.githubToken({ aud: PYPI_AUDIENCE }),
      403,
      "no_matching_publisher",
    );
  });

  it("24. a sub naming the trusted repository from a look-alike account is refused: ids and names match, never the composite sub", async () => {
    const sub = "repo:acme/demo:environment:release";
    // The genuine sub, from an account that took over the name (other ids).
    await expectRefused(
      h,
      await h.githubToken({ sub, repository_owner_id: "7654321", repository_id: "1111111" }),
      403,
      "no_matching_publisher",
    );
    // The genuine sub with another repository's fields.
    await expectRefused(
      h,
      await githubAs(h, "acme-123/demo-456", { sub }),
      403,
      "no_matching_publisher",
    );
    // A customised sub template (GitHub lets an org choose one) does not matter: the fields match.
    await expectExchanged(
      h,
      await h.githubToken({
        sub: "repository_owner_id:1234567:repository_id:892394032:environment:release",
      }),
    );
  });

  it("25. a token for package A asking for package B, and an issued token presented as a CI token, are refused", async () => {
    for (const packages of [
      ["@acme/other"],
      ["@acme/demo", "left-pad"],
      ["@acme"],
      ["@acme/demo/x"],
    ]) {
      const res = await expectRefused(h, await h.githubToken(), 403, "scope_exceeded", {
        packages,
      });
      expect(res.body.error_description).toMatch(/package is not granted/);
    }

    const issued = (await expectExchanged(h, await h.githubToken())).body.token as string;
    let res = await expectRefused(h, issued, 401, "malformed_token");
    expect(res.body.error_description).toMatch(/access token is not a CI token/);
    // Without its at+jwt type, the issued token's iss is still no CI issuer. (Re-signed with a CI
    // issuer's key, since only trustpub holds its own.)
    const payload = decodeJwt(issued);
    expect(payload.iss).toBe(TRUSTPUB_ISSUER);
    res = await expectRefused(h, await h.github.sign(payload), 401, "untrusted_issuer");
  });

  it("27. duplicate keys in the payload JSON are refused as malformed_token, and audited", async () => {
    const sign = (json: string) =>
      new CompactSign(new TextEncoder().encode(json))
        .setProtectedHeader({ alg: "RS256", kid: h.github.key.kid, typ: "JWT" })
        .sign(h.github.key.privateKey);
    const claimsJson = () => JSON.stringify(githubClaims(h.github.url, NPM_AUDIENCE));
    const prepend = (members: string) => `{${members},${claimsJson().slice(1)}`;

    const duplicates = [
      // A first-wins reader would see evil/demo; a last-wins reader the trusted acme/demo.
      prepend('"repository":"evil/demo"'),
      prepend('"repository_owner_id":"7654321"'),
      prepend(`"iss":"https://issuer.evil.example"`),
      prepend(`"aud":"npm:registry.evil"`),
      // The same name spelled with an escape.
      prepend('"repositor\\u0079":"evil/demo"'),
      // Deeper down.
      prepend('"extra":{"a":1,"a":2}'),
    ];
    for (const json of duplicates) {
      const audited = h.audit.events.length;
      const res = await expectRefused(h, await sign(json), 401, "malformed_token");
      expect(res.body.error_description).toMatch(/duplicate member names/);
      expect(h.audit.events.slice(audited)).toMatchObject([
        { type: "trustpub.exchange", outcome: "refused", reason: "malformed_token" },
      ]);
    }
    // Duplicates in the protected header: jose alone would take the last alg and kid.
    const kid = JSON.stringify(h.github.key.kid);
    const signer = KeyObject.from(h.github.key.privateKey);
    for (const header of [
      `{"alg":"none","kid":${kid},"typ":"JWT","alg":"RS256"}`,
      `{"alg":"RS256","kid":"attacker","typ":"JWT","kid":${kid}}`,
    ]) {
      const input = `${b64url(header)}.${b64url(claimsJson())}`;
      const token = `${input}.${b64url(nodeSign("sha256", Buffer.from(input), signer))}`;
      const audited = h.audit.events.length;
      const res = await expectRefused(h, token, 401, "malformed_token");
      expect(res.body.error_description).toMatch(/header is not valid JSON/);
      expect(h.audit.events.slice(audited)).toMatchObject([
        { outcome: "refused", reason: "malformed_token" },
      ]);
    }
    // The same claims without the duplicate, signed the same way, pass.
    await expectExchanged(h, await sign(claimsJson()));
  });
});

describe("B. policy bypass through issuer URLs", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      configure: (config, { github }) => {
        // github.com's issuer and one enterprise's, with the test issuer's key inline: never fetched.
        const issuers = config.ci_issuers as Config;
        const jwks = { keys: [github.key.publicJwk] };
        issuers["github-com"] = { url: GITHUB_COM, provider: "github", jwks };
        issuers["github-acme"] = { url: `${GITHUB_COM}/acme`, provider: "github", jwks };
        const base = publishersOf(config)[0]!;
        publishersOf(config).push(
          { ...base, id: "acme-demo-github-com", ci_issuer: "github-com" },
          { ...base, id: "acme-demo-ghe-acme", ci_issuer: "github-acme" },
        );
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("13. iss with a trailing slash, an upper-case host, a look-alike host or an unconfigured enterprise slug is refused without any fetch", async () => {
    const token = (iss: string) => h.github.sign(githubClaims(iss, NPM_AUDIENCE));
    // The configured URLs pass, each to its own publisher.
    expect((await expectExchanged(h, await token(GITHUB_COM))).body.publishers).toEqual([
      "acme-demo-github-com",
    ]);
    expect((await expectExchanged(h, await token(`${GITHUB_COM}/acme`))).body.publishers).toEqual([
      "acme-demo-ghe-acme",
    ]);
    await expectExchanged(h, await token(h.github.url));

    const port = h.github.port;
    const variants = [
      `${GITHUB_COM}/`,
      "https://TOKEN.ACTIONS.GITHUBUSERCONTENT.COM",
      "https://Token.Actions.GitHubUserContent.com",
      "HTTPS://token.actions.githubusercontent.com",
      `${GITHUB_COM}.evil.com`,
      `${GITHUB_COM}.evil.com/acme`,
      `https://evil.com/${GITHUB_COM}`,
      `https://evil.com?${GITHUB_COM}`,
      `https://token.actions.githubusercontent.com@evil.com`,
      `${GITHUB_COM}:443`,
      "http://token.actions.githubusercontent.com",
      `${GITHUB_COM}/other-enterprise`,
      `${GITHUB_COM}/acme/`,
      `${GITHUB_COM}/ACME`,
      `${GITHUB_COM}/acme/../other`,
      `${GITHUB_COM}/acme-evil`,
      `${GITHUB_COM}//acme`,
      // The live test issuer, spelled otherwise.
      `${h.github.url}/`,
      `HTTP://127.0.0.1:${port}`,
      `http://localhost:${port}`,
      `http://127.0.0.1:${port}.evil.com`,
      `http://127.0.0.1:${port}/.well-known/openid-configuration`,
      "http://169.254.169.254/latest/meta-data",
    ];

    h.github.resetCounts();
    h.gitlab.resetCounts();
    const outbound = recordOutbound(h.url);
    try {
      for (const iss of variants) {
        const res = await expectRefused(h, await token(iss), 401, "untrusted_issuer");
        expect(res.body.error_description).toBe("the token's issuer is not trusted");
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    } finally {
      outbound.restore();
    }
    expect(outbound.urls).toEqual([]);
    expect(h.github.requests.total).toBe(0);
    expect(h.gitlab.requests.total).toBe(0);
  });
});

describe("B. policy bypass around a publisher naming a reusable workflow", () => {
  let h: Harness;
  const shared = "acme/shared/.github/workflows/publish.yml";

  beforeAll(async () => {
    h = await startHarness({
      configure: (config) => {
        matchOf(publishersOf(config)[0]!).job_workflow = { glob: `${shared}@refs/tags/v*` };
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("20. only the named reusable workflow passes; one from another repository, ref or file is refused", async () => {
    const res = await expectExchanged(
      h,
      await h.githubToken({ job_workflow_ref: `${shared}@refs/tags/v2` }),
    );
    expect(res.body.publishers).toEqual(["acme-demo-release"]);

    const refused = [
      "evil/shared/.github/workflows/publish.yml@refs/tags/v2",
      "acme/shared-evil/.github/workflows/publish.yml@refs/tags/v2",
      "acme/shared/.github/workflows/publish-evil.yml@refs/tags/v2",
      `${shared}@refs/heads/main`,
      `${shared}@refs/tags/v2/evil`,
      // The caller's own workflow is not the reusable workflow the publisher names.
      workflowRef("acme/demo"),
    ];
    for (const job_workflow_ref of refused) {
      await expectRefused(
        h,
        await h.githubToken({ job_workflow_ref }),
        403,
        "no_matching_publisher",
      );
    }
  });
});

describe("B. policy bypass around a regex matcher", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      configure: (config) => {
        const base = publishersOf(config)[0]!;
        matchOf(base).environment = { regex: "a|b" };
        publishersOf(config).push({
          ...base,
          id: "acme-demo-regex",
          match: { ...matchOf(base), environment: { regex: "release|package" } },
        });
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("26. policy regex a|b matches a and b only: a-evil is refused", async () => {
    for (const environment of ["a", "b", "A"]) {
      const res = await expectExchanged(h, await h.githubToken({ environment }));
      expect(res.body.publishers).toEqual(["acme-demo-release"]);
    }
    for (const environment of ["a-evil", "evil-b", "ab", "ba", "a|b", "xa", "bx", "c"]) {
      await expectRefused(h, await h.githubToken({ environment }), 403, "no_matching_publisher");
    }
  });

  it("17. look-alikes that Unicode case folding maps into ASCII (long s, Kelvin sign) do not match a case-insensitive regex", async () => {
    // GitHub environments compare ASCII case-insensitively, so a regex on them ignores ASCII case.
    for (const environment of ["release", "Release", "PACKAGE"]) {
      const res = await expectExchanged(h, await h.githubToken({ environment }));
      expect(res.body.publishers).toEqual(["acme-demo-regex"]);
    }
    // U+017F folds to "s" and U+212A to "k" under Unicode case folding: a workflow naming such an
    // environment would get a fresh, unprotected one on GitHub, so it must not match "release".
    for (const environment of ["relea\u017fe", "RELEA\u017fE", "pac\u212aage", "\u017f"]) {
      await expectRefused(h, await h.githubToken({ environment }), 403, "no_matching_publisher");
    }
  });
});
