import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

/**
 * DEVELOPMENT ONLY. A CI issuer inside trustpub, so a newcomer can perform a
 * real exchange without a CI account. It is enabled only by
 * `dev.demo_issuer: true`, which the config refuses unless trustpub's own
 * issuer is a loopback http URL, and the server then binds loopback only.
 */
export interface DemoIssuer {
  readonly url: string;
  readonly jwks: { keys: JWK[] };
  mint(claims: Record<string, unknown>): Promise<string>;
}

export async function createDemoIssuer(
  trustpubIssuer: string,
  nowSeconds: () => number,
): Promise<DemoIssuer> {
  const url = `${trustpubIssuer.replace(/\/$/, "")}/demo`;
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const jwks = { keys: [{ ...jwk, kid, alg: "RS256", use: "sig" }] };
  return {
    url,
    jwks,
    async mint(claims) {
      const now = nowSeconds();
      return new SignJWT({ ...claims, jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
        .setIssuer(url)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + 300)
        .sign(privateKey);
    },
  };
}

/** A GitHub Actions claim set for the demo repository; `overrides` replace single claims. */
export function demoGithubClaims(overrides: Record<string, string>): Record<string, unknown> {
  const repository = overrides.repository ?? "acme/demo";
  const ref = overrides.ref ?? "refs/tags/v1.0.0";
  const workflow = overrides.workflow ?? "release.yml";
  return {
    sub: `repo:${repository}:environment:${overrides.environment ?? "release"}`,
    repository,
    repository_id: "100000001",
    repository_owner: repository.split("/")[0],
    repository_owner_id: "100000000",
    repository_visibility: "private",
    workflow_ref: `${repository}/.github/workflows/${workflow}@${ref}`,
    job_workflow_ref: `${repository}/.github/workflows/${workflow}@${ref}`,
    ref,
    ref_type: ref.startsWith("refs/tags/") ? "tag" : "branch",
    sha: "0123456789abcdef0123456789abcdef01234567",
    event_name: "push",
    environment: "release",
    run_id: "1",
    run_attempt: "1",
    runner_environment: "github-hosted",
    ...overrides,
  };
}
