import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/config/problems.js";

const SECRET = "s".repeat(40);
const files = { readText: async (path: string) => (path.endsWith(".secret") ? `${SECRET}\n` : "") };

function config(registries: Record<string, unknown>): unknown {
  return {
    issuer: "https://sts.example.com",
    ci_issuers: {
      github: { url: "https://token.actions.githubusercontent.com", provider: "github" },
    },
    registries,
  };
}

async function problems(registries: Record<string, unknown>): Promise<readonly string[]> {
  try {
    await loadConfig(config(registries), {}, files);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe("registry mounts and introspection secrets", () => {
  it("refuses two registries of one flavor at one mount, and allows other flavors there", async () => {
    expect(
      await problems({
        a: { flavor: "npm", audience: "npm:a", token_audience: "https://a", mount: "/" },
        b: { flavor: "npm", audience: "npm:b", token_audience: "https://b", mount: "/" },
        c: { flavor: "pypi", audience: "pypi:c", token_audience: "https://c", mount: "/" },
      }),
    ).toEqual([
      "registries.b.mount: registries.a already serves the npm endpoints at /; give each its own mount",
    ]);
    expect(
      await problems({
        a: { flavor: "npm", audience: "npm:a", token_audience: "https://a" },
        b: { flavor: "npm", audience: "npm:b", token_audience: "https://b", mount: "/r/a" },
      }),
    ).toEqual([
      "registries.b.mount: registries.a already serves the npm endpoints at /r/a; give each its own mount",
    ]);
  });

  it("refuses one introspection secret shared by two registries", async () => {
    expect(
      await problems({
        a: {
          flavor: "npm",
          audience: "npm:a",
          token_audience: "https://a",
          introspection_secrets_file: "a.secret",
        },
        b: {
          flavor: "pypi",
          audience: "pypi:b",
          token_audience: "https://b",
          introspection_secrets_file: "b.secret",
        },
      }),
    ).toEqual([
      "registries.b.introspection_secrets_file: shares a secret with registries.a; each registry needs its own",
    ]);
  });
});
