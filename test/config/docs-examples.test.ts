import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, parseConfigText } from "../../src/config/load.js";
import { nodeFileSource } from "../../src/config/node-files.js";
import { readConfig } from "../../src/server.js";

const root = join(import.meta.dirname, "..", "..");
const examples = join(root, "examples");

/** The YAML blocks of a doc that hold `ci_issuers` or `publishers`. */
async function configBlocks(doc: string): Promise<string[]> {
  const text = await readFile(join(root, doc), "utf8");
  return [...text.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((block) => /^(ci_issuers|publishers):/m.test(block));
}

/** A doc snippet completed into a whole config: the registry it names, and the issuers it relies on. */
function completed(block: string): Record<string, unknown> {
  const fragment = parseConfigText(block) as Record<string, unknown>;
  return {
    issuer: "https://sts.example.com",
    registries: {
      "npm-internal": {
        flavor: "npm",
        audience: "npm:registry.example",
        token_audience: "https://registry.example",
      },
    },
    ci_issuers: fragment.ci_issuers ?? {
      github: { url: "https://token.actions.githubusercontent.com", provider: "github" },
      circleci: { url: "https://oidc.circleci.com/org/{org_id}", provider: "circleci" },
    },
    publishers: fragment.publishers ?? [],
  };
}

describe("documented configs", () => {
  it.each(["README.md", "docs/reusable-workflows.md"])(
    "every config snippet of %s loads without warnings",
    async (doc) => {
      const blocks = await configBlocks(doc);
      expect(blocks.length).toBeGreaterThan(0);
      for (const block of blocks) {
        const loaded = await loadConfig(completed(block), {}, nodeFileSource(examples));
        expect(loaded.warnings).toEqual([]);
        expect(loaded.publishers.length).toBeGreaterThan(0);
      }
    },
  );

  it("the README shows a snippet for every provider but generic", async () => {
    const { PROVIDER_NAMES } = await import("../../src/providers/index.js");
    const text = (await configBlocks("README.md")).join("\n");
    for (const name of PROVIDER_NAMES.filter((n) => n !== "generic")) {
      expect(text).toContain(`provider: ${name}`);
    }
  });

  it("every example config passes trustpub check without warnings", async () => {
    for (const file of (await readdir(examples)).filter((f) => f.endsWith(".yaml"))) {
      const loaded = await readConfig(join(examples, file), {});
      expect({ file, warnings: loaded.warnings }).toEqual({ file, warnings: [] });
    }
  });
});
