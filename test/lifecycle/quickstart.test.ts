import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT, type ServeProcess, startServe, tempDir } from "../support/cli.js";
import { freePort } from "../support/ports.js";

/**
 * The README's first run: `npm start` serves examples/quickstart.yaml, whose
 * development-only demo issuer mints a CI token that trustpub exchanges once.
 * The example is copied with its port (8080) replaced by a free one.
 */

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: ServeProcess;
let port: number;

beforeAll(async () => {
  dir = await tempDir();
  const example = await readFile(join(PROJECT_ROOT, "examples/quickstart.yaml"), "utf8");
  expect(example).toContain("127.0.0.1:8080");
  port = await freePort();
  const copy = join(dir.path, "quickstart.yaml");
  await writeFile(copy, example.replaceAll("8080", String(port)));
  // No HOST: with the demo issuer on, trustpub binds loopback by itself.
  server = await startServe(copy, { port, env: { HOST: undefined } });
});
afterAll(async () => {
  await server?.stop();
  await dir?.cleanup();
});

async function post(path: string, body: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("quickstart", () => {
  it("serves on loopback at the configured port", async () => {
    expect(server.url).toBe(`http://127.0.0.1:${port}`);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it("mints a demo token, exchanges it once, and refuses it the second time", async () => {
    const minted = await post("/demo/token", { audience: "npm:registry.example" });
    expect(minted.status).toBe(200);
    const ci = minted.body.token as string;
    expect(decodeProtectedHeader(ci)).toMatchObject({ alg: "RS256", typ: "JWT" });

    const first = await post("/v1/exchange", { token: ci });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      token_type: "Bearer",
      registry: "demo-npm",
      publishers: ["acme-demo-release"],
      packages: ["@acme/demo", "@acme/demo-*"],
      permissions: ["publish"],
    });
    expect(typeof first.body.token).toBe("string");

    const second = await post("/v1/exchange", { token: ci });
    expect(second.status).toBe(409);
    expect(second.body).toEqual({
      error: "invalid_request",
      error_description: "token has already been used",
      reason: "replayed_token",
    });
  });

  it("warns that the demo issuer and the memory store are for development", () => {
    expect(server.output()).toContain("DEVELOPMENT ONLY");
    expect(server.output()).toContain("replay protection holds for this one process only");
  });
});
