import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadConfig, parseConfigText } from "../../src/config/load.js";
import { ConfigError } from "../../src/config/problems.js";
import { params, timeoutFor, within } from "./settings.js";

/** A valid config to mutate: every top-level section, two issuers, two publishers. */
function validConfig(): Record<string, unknown> {
  return {
    issuer: "https://sts.example.com",
    replay: { command_timeout: "500ms" },
    rate_limits: { per_client: "100/s", per_publisher: "10/s", trusted_proxies: ["10.0.0.0/8"] },
    defaults: { clock_skew: "30s", max_token_age: "15m", token_ttl: "15m" },
    ci_issuers: {
      github: { url: "https://token.actions.githubusercontent.com", provider: "github" },
      gitlab: { url: "https://gitlab.com", provider: "gitlab" },
    },
    registries: {
      npm: {
        flavor: "npm",
        audience: "npm:registry.example",
        token_audience: "https://registry.example",
      },
    },
    publishers: [
      {
        id: "acme",
        registry: "npm",
        ci_issuer: "github",
        match: { repository: "acme/demo", repository_owner_id: "1", ref: { glob: "refs/tags/v*" } },
        packages: ["@acme/demo"],
      },
      {
        id: "acme-gl",
        registry: "npm",
        ci_issuer: "gitlab",
        match: { project_id: "4242", ref: { regex: "v[0-9]+\\.[0-9]+" } },
        packages: ["@acme/gl"],
      },
    ],
  };
}

const noFiles = {
  readText: async (path: string) => Promise.reject(new Error(`no such file ${path}`)),
};

/** Loads and classifies: "ok" or "config error"; throws on anything else, or a problem without a path. */
async function classify(raw: unknown): Promise<string> {
  try {
    await within(2_000, "loading a config", () => loadConfig(raw, {}, noFiles));
    return "ok";
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expect(err.problems.length).toBeGreaterThan(0);
    for (const problem of err.problems) expect(problem).toMatch(/^\S[^\n]*: \S/);
    return "config error";
  }
}

/** The valid config with one subtree (chosen by a path of indices) replaced by `value`. */
function mutate(config: unknown, path: readonly number[], value: unknown): unknown {
  if (path.length === 0 || config === null || typeof config !== "object") return value;
  const [step, ...rest] = path as [number, ...number[]];
  if (Array.isArray(config)) {
    if (config.length === 0) return value;
    const copy = [...config];
    copy[step % copy.length] = mutate(copy[step % copy.length], rest, value);
    return copy;
  }
  const keys = Object.keys(config);
  if (keys.length === 0) return value;
  const key = keys[step % keys.length]!;
  return {
    ...(config as Record<string, unknown>),
    [key]: mutate((config as Record<string, unknown>)[key], rest, value),
  };
}

const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    "",
    "0s",
    "-1s",
    "1e309ms",
    "99999999999h",
    "__proto__",
    "constructor",
    "(a+)+",
    ".*.*.*.*x",
    "10.0.0.0/33",
    "http://127.0.0.1",
    "https://{org_id}.example",
    "https://a/{x}/{y}",
  ),
  fc.dictionary(
    fc.constantFrom("__proto__", "constructor", "glob", "regex", "equals", "url", "x"),
    fc.jsonValue({ maxDepth: 2 }),
  ),
);

describe("fuzz: the config loader", () => {
  it(
    "parses any text as YAML/JSON or refuses it with a ConfigError",
    async () => {
      await fc.assert(
        fc.property(
          fc.oneof(
            fc.string({ maxLength: 2000 }),
            fc.string({ unit: "binary", maxLength: 500 }),
            fc.jsonValue().map((v) => JSON.stringify(v) ?? ""),
          ),
          (text) => {
            try {
              parseConfigText(text);
            } catch (err) {
              expect(err).toBeInstanceOf(ConfigError);
            }
          },
        ),
        params(),
      );
    },
    timeoutFor(),
  );

  it(
    "loads any value, or refuses it with every problem named by its path",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.anything(), fc.jsonValue({ maxDepth: 5 })), async (raw) => {
          await classify(raw);
        }),
        params(),
      );
    },
    timeoutFor(),
  );

  it(
    "loads a valid config with any one part replaced, or refuses it with paths",
    async () => {
      expect(await classify(validConfig())).toBe("ok");
      const seen = new Set<string>();
      await fc.assert(
        fc.asyncProperty(fc.array(fc.nat(), { maxLength: 6 }), anyValue, async (path, value) => {
          seen.add(await classify(mutate(validConfig(), path, value)));
        }),
        params(),
      );
      expect(seen.has("config error")).toBe(true);
    },
    timeoutFor(),
  );

  it("refuses what fuzzing found: undefined aliases, alias bombs, names of Object.prototype members", async () => {
    expect(() => parseConfigText("*QF")).toThrow(ConfigError);
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 10; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(", ")}]`,
      );
    expect(() => parseConfigText(bomb.join("\n"))).toThrow(ConfigError);
    for (const name of ["__proto__", "constructor", "toString"]) {
      const config = validConfig();
      const publishers = config.publishers as Record<string, unknown>[];
      publishers[0] = { ...publishers[0], registry: name, ci_issuer: name };
      await expect(loadConfig(config, {}, noFiles)).rejects.toThrow(
        /publishers\[0\]\.registry: no registry with this id/,
      );
    }
  });
});
