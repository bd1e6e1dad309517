import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  answerOf,
  type Harness,
  type HarnessOptions,
  type HttpAnswer,
  startHarness,
} from "./harness.js";

/** Audiences of the extra registries, one per flavor (the harness has npm and PyPI). */
export const CARGO_AUDIENCE = "cargo.test";
export const RUBYGEMS_AUDIENCE = "rubygems.test";
export const NUGET_AUDIENCE = "nuget.test";
export const GENERIC_AUDIENCE = "generic.test";

/** Introspection secrets, one file per registry; each at least 32 characters. */
export const INTROSPECT_SECRET = {
  "npm-internal": "npm-introspection-secret-0123456789abcdef",
  "pypi-internal": "pypi-introspection-secret-0123456789abcdef",
} as const;

const GITHUB_MATCH = {
  repository: "acme/demo",
  repository_owner_id: "1234567",
  workflow: "release.yml",
  environment: "release",
};

const secretDirs: string[] = [];

/**
 * The harness with every flavor mounted (`withAllFlavors`); its `close` also
 * removes the secret files the config named.
 */
export async function startFlavorsHarness(npmMount?: string): Promise<Harness> {
  const h = await startHarness({ configure: withAllFlavors(npmMount) });
  return {
    ...h,
    async close() {
      await h.close();
      removeSecretFiles();
    },
  };
}

/** Removes the secret files `withAllFlavors` wrote; call it in afterAll. */
export function removeSecretFiles(): void {
  for (const dir of secretDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Adds a cargo, a RubyGems, a NuGet and a generic registry, each with a
 * GitHub publisher for the demo repository, and introspection secrets for
 * the npm and PyPI registries. `npmMount` moves the npm endpoints.
 */
export function withAllFlavors(npmMount?: string): NonNullable<HarnessOptions["configure"]> {
  return (config) => {
    const dir = mkdtempSync(join(tmpdir(), "trustpub-secrets-"));
    secretDirs.push(dir);
    const registries = config.registries as Record<string, Record<string, unknown>>;
    for (const [id, secret] of Object.entries(INTROSPECT_SECRET)) {
      const file = join(dir, `${id}.secret`);
      writeFileSync(file, `# introspection secret of ${id}\n${secret}\n`);
      registries[id]!.introspection_secrets_file = file;
    }
    if (npmMount !== undefined) registries["npm-internal"]!.mount = npmMount;
    Object.assign(registries, {
      "cargo-internal": {
        flavor: "cargo",
        audience: CARGO_AUDIENCE,
        token_audience: "https://cargo.test",
        token_ttl: "30m",
      },
      "gems-internal": {
        flavor: "rubygems",
        audience: RUBYGEMS_AUDIENCE,
        token_audience: "https://rubygems.test",
      },
      "nuget-internal": {
        flavor: "nuget",
        audience: NUGET_AUDIENCE,
        token_audience: "https://nuget.test",
        token_ttl: "1h",
      },
      "files-internal": {
        flavor: "generic",
        audience: GENERIC_AUDIENCE,
        token_audience: "https://files.test",
      },
    });
    const publishers = config.publishers as Record<string, unknown>[];
    publishers.push(
      {
        id: "acme-demo-crate",
        registry: "cargo-internal",
        ci_issuer: "github",
        match: GITHUB_MATCH,
        packages: ["acme_demo"],
        permissions: ["publish", "yank"],
      },
      {
        id: "acme-demo-gem",
        registry: "gems-internal",
        ci_issuer: "github",
        match: GITHUB_MATCH,
        packages: ["acme-demo"],
        permissions: ["publish"],
      },
      {
        id: "acme-demo-nuget",
        registry: "nuget-internal",
        ci_issuer: "github",
        match: GITHUB_MATCH,
        packages: ["Acme.Demo", "Acme.Demo.*"],
        permissions: ["publish"],
      },
      {
        id: "acme-demo-files",
        registry: "files-internal",
        ci_issuer: "github",
        match: GITHUB_MATCH,
        packages: ["demo"],
        permissions: ["read"],
      },
    );
  };
}

/** Sends a request to the harness with any method, body and headers. */
export async function send(
  url: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpAnswer> {
  return answerOf(
    await fetch(`${url}${path}`, {
      method: init.method ?? "GET",
      headers: init.headers,
      body: init.body,
    }),
  );
}

/** A JSON POST. */
export function postJson(
  url: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  return send(url, path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}
