import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/problems.js";
import { bindingFileSource, loadWorkerConfig, type WorkerEnv } from "../../src/edge/env.js";
import type { ReplayShardNamespace } from "../../src/replay/durable-object-store.js";
import { generatePrivateJwk } from "../../src/tokens/keys.js";

// Config loading is runtime-neutral: these run in Node; the Worker tests run it in workerd.
const namespace = {
  idFromName: (name: string) => name,
  get: () => {
    throw new Error("not called while loading");
  },
} as unknown as ReplayShardNamespace;

const config = {
  issuer: "https://sts.example.com",
  ci_issuers: {
    github: { url: "https://token.actions.githubusercontent.com", provider: "github" },
  },
  registries: {
    npm: {
      flavor: "npm",
      audience: "npm:registry.example",
      token_audience: "https://registry.example",
    },
  },
};

async function problemsOf(env: WorkerEnv): Promise<readonly string[]> {
  try {
    await loadWorkerConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const keys = async () => JSON.stringify({ keys: [await generatePrivateJwk("ES256")] });

describe("loadWorkerConfig", () => {
  it("loads a JSON var config with keys from the TRUSTPUB_SIGNING_KEYS secret", async () => {
    const setup = await loadWorkerConfig({
      TRUSTPUB_CONFIG: config,
      TRUSTPUB_SIGNING_KEYS: await keys(),
      TRUSTPUB_REPLAY: namespace,
    });
    expect(setup.shards).toBe(16);
    expect(setup.loaded.signingJwks?.keys).toHaveLength(1);
    expect(setup.loaded.config.signing.keys_file).toBe("TRUSTPUB_SIGNING_KEYS");
  });

  it("loads YAML text, and a config given by a custom entry instead of the binding", async () => {
    const yaml = "issuer: https://sts.example.com\nci_issuers: {}\nregistries: {}\n";
    const env = { TRUSTPUB_SIGNING_KEYS: await keys(), TRUSTPUB_REPLAY: namespace };
    expect((await loadWorkerConfig({ ...env, TRUSTPUB_CONFIG: yaml })).loaded.config.issuer).toBe(
      "https://sts.example.com",
    );
    const bundled = await loadWorkerConfig(env, {
      config: { ...config, issuer: "https://b.example" },
    });
    expect(bundled.loaded.config.issuer).toBe("https://b.example");
  });

  it("reads files the config names from bundled content first, then bindings", async () => {
    const signing = await keys();
    const setup = await loadWorkerConfig(
      {
        TRUSTPUB_CONFIG: { ...config, signing: { keys_file: "SIGNING_JWKS" } },
        SIGNING_JWKS: "not this one",
        TRUSTPUB_REPLAY: namespace,
      },
      { files: { SIGNING_JWKS: signing } },
    );
    expect(setup.loaded.signingJwks?.keys[0]?.kid).toBe(JSON.parse(signing).keys[0].kid);
  });

  it("refuses Redis, a missing key, a missing binding and a bad shard count, all at once", async () => {
    const problems = await problemsOf({
      TRUSTPUB_CONFIG: { ...config, replay: { redis: "redis://127.0.0.1:6379" } },
      TRUSTPUB_REPLAY_SHARDS: "0",
    });
    expect(problems).toEqual([
      "replay.redis: not available on Workers; claims go to the TRUSTPUB_REPLAY Durable Object binding",
      "signing.keys_file: required on Workers (set the TRUSTPUB_SIGNING_KEYS secret): an ephemeral key would differ in every isolate",
      "TRUSTPUB_REPLAY: no Durable Object binding of the ReplayShard class",
      "TRUSTPUB_REPLAY_SHARDS: expected an integer from 1 to 1024",
    ]);
  });

  it("names the missing config and a file with no binding", async () => {
    expect(await problemsOf({ TRUSTPUB_REPLAY: namespace })).toEqual([
      "TRUSTPUB_CONFIG: not set (a JSON var, or JSON or YAML text, holding the config)",
    ]);
    const problems = await problemsOf({
      TRUSTPUB_CONFIG: { ...config, signing: { keys_file: "/etc/trustpub/signing.jwks.json" } },
      TRUSTPUB_REPLAY: namespace,
    });
    expect(problems[0]).toBe(
      "signing.keys_file: cannot read /etc/trustpub/signing.jwks.json (no bundled file and no text or JSON binding named /etc/trustpub/signing.jwks.json)",
    );
  });
});

describe("bindingFileSource", () => {
  it("gives text bindings as they are and JSON vars as JSON, never other bindings", async () => {
    const files = bindingFileSource({
      TEXT: "line\n",
      JSON_VAR: { keys: [] },
      TRUSTPUB_REPLAY: namespace,
      SERVICE: { fetch: () => undefined },
    } as WorkerEnv);
    expect(await files.readText("TEXT")).toBe("line\n");
    expect(await files.readText("JSON_VAR")).toBe('{"keys":[]}');
    await expect(files.readText("SERVICE")).rejects.toThrow(/no bundled file/);
    await expect(files.readText("toString")).rejects.toThrow(/no bundled file/);
  });
});
