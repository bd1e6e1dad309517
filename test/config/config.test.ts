import { describe, expect, it } from "vitest";
import {
  type FileSource,
  type LoadedConfig,
  loadConfig,
  parseConfigText,
} from "../../src/config/load.js";
import { ConfigError } from "../../src/config/problems.js";
import { publisherMatches } from "../../src/policy/publisher.js";
import { generatePrivateJwk } from "../../src/tokens/keys.js";
import { demoReleaseMatch } from "../support/claims.js";

/**
 * src/config/load.ts: the whole config is checked at once, every problem is
 * reported with its path, and nothing half-valid is ever returned.
 */

type Config = Record<string, unknown>;

/** Files named by the config, from memory. */
function files(contents: Record<string, string> = {}): FileSource {
  return {
    readText: async (path) => {
      const text = contents[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
      return text;
    },
  };
}

function validConfig(): Config {
  return {
    issuer: "https://sts.example.com",
    ci_issuers: {
      github: { url: "https://token.actions.githubusercontent.com", provider: "github" },
      gitlab: { url: "https://gitlab.com", provider: "gitlab" },
    },
    registries: {
      npm: { flavor: "npm", audience: "npm:npm.example", token_audience: "https://npm.example" },
      pypi: {
        flavor: "pypi",
        audience: "pypi:pypi.example",
        token_audience: "https://pypi.example",
      },
    },
    publishers: [
      {
        id: "acme-demo",
        registry: "npm",
        ci_issuer: "github",
        match: demoReleaseMatch(),
        packages: ["@acme/demo"],
        permissions: ["publish"],
      },
    ],
  };
}

function edited(edit: (config: Config) => void): Config {
  const config = validConfig();
  edit(config);
  return config;
}

const load = (raw: unknown, source: FileSource = files(), env = {}): Promise<LoadedConfig> =>
  loadConfig(raw, env, source);

/** The problems of a config that must not load. */
async function problems(raw: unknown, source: FileSource = files()): Promise<readonly string[]> {
  const err = await load(raw, source).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  const { problems: list, message } = err as ConfigError;
  for (const problem of list) expect(message).toContain(problem);
  return list;
}

const publisher = (config: Config, index = 0) =>
  (config.publishers as Record<string, unknown>[])[index]!;
const issuers = (config: Config) => config.ci_issuers as Record<string, Record<string, unknown>>;
const registries = (config: Config) => config.registries as Record<string, Record<string, unknown>>;

describe("a valid config", () => {
  it("loads with the documented defaults, frozen", async () => {
    const { config, publishers, warnings } = await load(validConfig());
    expect(config.defaults).toEqual({
      clock_skew: 30_000,
      max_token_age: 900_000,
      token_ttl: 900_000,
    });
    expect(config.replay.command_timeout).toBe(500);
    expect(config.replay.key_prefix).toBe("trustpub:");
    expect(config.shutdown).toEqual({ delay: 2_000, drain_timeout: 10_000 });
    expect(config.limits.body_bytes).toBe(65_536);
    expect(config.signing.alg).toBe("ES256");
    expect(config.ci_issuers.github!.algorithms).toEqual(["RS256"]);
    expect(config.ci_issuers.github!.require_jti).toBe(true);
    expect(publishers.map((p) => p.id)).toEqual(["acme-demo"]);
    expect(warnings).toEqual([]);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.defaults)).toBe(true);
    expect(() => {
      (config.defaults as { clock_skew: number }).clock_skew = 1;
    }).toThrow(TypeError);
  });

  it("takes REDIS_URL and TRUSTPUB_SIGNING_KEYS from the environment", async () => {
    const jwks = JSON.stringify({ keys: [await generatePrivateJwk("ES256")] });
    const { config, signingJwks } = await loadConfig(
      validConfig(),
      { REDIS_URL: "redis://127.0.0.1:6390/0", TRUSTPUB_SIGNING_KEYS: "keys.json" },
      files({ "keys.json": jwks }),
    );
    expect(config.replay.redis).toBe("redis://127.0.0.1:6390/0");
    expect(config.signing.keys_file).toBe("keys.json");
    expect(signingJwks?.keys).toHaveLength(1);
  });
});

describe("durations", () => {
  it("parses 30s, 15m, 500ms, 1h and bare seconds", async () => {
    const { config } = await load(
      edited((c) => {
        c.defaults = { clock_skew: "30s", max_token_age: "15m", token_ttl: "1h" };
        c.replay = { command_timeout: "500ms" };
        c.shutdown = { delay: 5, drain_timeout: "1.5s" };
        registries(c).npm!.token_ttl = "10m";
      }),
    );
    expect(config.defaults).toEqual({
      clock_skew: 30_000,
      max_token_age: 900_000,
      token_ttl: 3_600_000,
    });
    expect(config.replay.command_timeout).toBe(500);
    expect(config.shutdown).toEqual({ delay: 5_000, drain_timeout: 1_500 });
    expect(config.registries.npm!.token_ttl).toBe(600_000);
  });

  it("refuses text that is not a duration", async () => {
    const list = await problems(
      edited((c) => {
        c.defaults = { clock_skew: "30 seconds", max_token_age: "-5m" };
      }),
    );
    expect(list).toEqual([
      "defaults.clock_skew: expected a duration such as 500ms, 30s, 15m or 1h",
      "defaults.max_token_age: expected a duration such as 500ms, 30s, 15m or 1h",
    ]);
  });

  it("enforces the bounds: clock_skew at most 5m, token_ttl at most 1h", async () => {
    const list = await problems(
      edited((c) => {
        c.defaults = { clock_skew: "10m", token_ttl: "2h" };
        registries(c).npm!.token_ttl = "2h";
        c.replay = { command_timeout: "11s" };
      }),
    );
    expect(list).toEqual(
      expect.arrayContaining([
        "defaults.clock_skew: must be at most 5m",
        "defaults.token_ttl: must be at most 1h",
        "registries.npm.token_ttl: must be at most 1h",
        "replay.command_timeout: must be at most 10s",
      ]),
    );
    expect(list).toHaveLength(4);
  });

  it("accepts the bounds themselves", async () => {
    const { config } = await load(
      edited((c) => {
        c.defaults = { clock_skew: "5m", token_ttl: "1h" };
      }),
    );
    expect(config.defaults.clock_skew).toBe(300_000);
    expect(config.defaults.token_ttl).toBe(3_600_000);
  });
});

describe("every problem, with its path, in one error", () => {
  it("collects schema problems across the whole file", async () => {
    const list = await problems(
      edited((c) => {
        c.issuer = "not a url";
        c.unknown_top_level = true;
        issuers(c).github!.provider = "jenkins";
        registries(c).npm!.flavor = "maven";
        publisher(c).match = { environment: ["release"] };
        publisher(c).permissions = ["admin"];
      }),
    );
    const paths = list.map((p) => p.slice(0, p.indexOf(":")));
    expect(paths).toEqual(
      expect.arrayContaining([
        "issuer",
        "(root)",
        "ci_issuers.github.provider",
        "registries.npm.flavor",
        "publishers[0].match.environment",
        "publishers[0].permissions[0]",
      ]),
    );
    expect(list.find((p) => p.startsWith("(root)"))).toContain("unknown_top_level");
  });

  it("collects cross-checks and publisher problems together", async () => {
    const list = await problems(
      edited((c) => {
        registries(c).pypi!.audience = "npm:npm.example";
        issuers(c).gitlab!.url = "http://gitlab.example";
        (c.publishers as unknown[]).push({
          ...publisher(c),
          id: "second",
          match: { repo: "acme/demo", ref: { regex: "(a+)+" } },
        });
        publisher(c).registry = "nope";
      }),
    );
    expect(list).toEqual(
      expect.arrayContaining([
        "registries.pypi.audience: already used by registries.npm; audiences must be unique",
        expect.stringMatching(/^ci_issuers\.gitlab\.url: must be https/),
        "publishers[0].registry: no registry with this id",
        expect.stringMatching(/^publishers\[1\]\.match\.repo: unknown github shortcut/),
        expect.stringMatching(/^publishers\[1\]\.match\.ref: a quantified group/),
      ]),
    );
    expect(list).toHaveLength(5);
  });

  it("prints them one per line", async () => {
    const err = await load(
      edited((c) => {
        c.defaults = { clock_skew: "10m" };
        registries(c).npm!.flavor = "maven";
      }),
    ).catch((e: unknown) => e as ConfigError);
    expect((err as ConfigError).message.split("\n")).toEqual([
      "invalid configuration:",
      "  - defaults.clock_skew: must be at most 5m",
      expect.stringMatching(/^ {2}- registries\.npm\.flavor: /),
    ]);
  });

  it("refuses duplicate keys in the file text", () => {
    expect(() => parseConfigText("issuer: https://a.example\nissuer: https://b.example\n")).toThrow(
      ConfigError,
    );
    expect(parseConfigText('{"issuer": "https://a.example"}')).toEqual({
      issuer: "https://a.example",
    });
  });
});

describe("publisher match keys", () => {
  it("refuses an unknown shortcut, naming the provider's shortcuts", async () => {
    const [problem] = await problems(
      edited((c) => {
        publisher(c).match = { repo: "acme/demo", repository_id: "1" };
      }),
    );
    expect(problem).toMatch(/^publishers\[0\]\.match\.repo: unknown github shortcut; use one of /);
    for (const name of [
      "repository",
      "repository_owner_id",
      "workflow",
      "job_workflow",
      "environment",
    ]) {
      expect(problem).toContain(name);
    }
    expect(problem).toContain('a JSON Pointer such as "/claim"');
  });

  it("names the GitLab shortcuts for a GitLab publisher", async () => {
    const [problem] = await problems(
      edited((c) => {
        Object.assign(publisher(c), {
          ci_issuer: "gitlab",
          registry: "pypi",
          packages: ["acme-demo"],
          match: { repository: "acme/demo" },
        });
      }),
    );
    expect(problem).toMatch(/^publishers\[0\]\.match\.repository: unknown gitlab shortcut/);
    expect(problem).toContain("project_path");
    expect(problem).toContain("ci_config");
  });

  it("refuses a regex that can backtrack badly, at load", async () => {
    for (const regex of ["(a+)+", "(a|aa)*", "(x*)*y", "(?=a)a", "(a)\\1"]) {
      const list = await problems(
        edited((c) => {
          publisher(c).match = { repository_id: "1", ref: { regex } };
        }),
      );
      expect(list).toHaveLength(1);
      expect(list[0]).toMatch(/^publishers\[0\]\.match\.ref: /);
    }
  });

  it("refuses an invalid regex at load", async () => {
    const list = await problems(
      edited((c) => {
        publisher(c).match = { repository_id: "1", ref: { regex: "refs/tags/[" } };
      }),
    );
    expect(list).toEqual([
      expect.stringMatching(/^publishers\[0\]\.match\.ref: invalid regular expression/),
    ]);
  });

  it("accepts JSON Pointer keys with a generic issuer and matches the raw claims", async () => {
    const config = edited((c) => {
      issuers(c).k8s = { url: "https://kubernetes.default.svc", provider: "generic" };
      publisher(c).ci_issuer = "k8s";
      publisher(c).match = {
        "/kubernetes.io/namespace": "prod",
        "/kubernetes.io/serviceaccount/name": { glob: "publisher-*" },
        "/oidc.circleci.com~1org-id": "org-1",
      };
    });
    const { publishers, warnings } = await load(config);
    expect(warnings).toEqual([]);
    const [compiled] = publishers;
    const claims = {
      sub: "system:serviceaccount:prod:publisher-1",
      "kubernetes.io": { namespace: "prod", serviceaccount: { name: "publisher-1" } },
      "oidc.circleci.com/org-id": "org-1",
    };
    const identity = { values: {}, act: {} };
    expect(publisherMatches(compiled!, claims, identity)).toBe(true);
    expect(
      publisherMatches(
        compiled!,
        {
          ...claims,
          "kubernetes.io": { namespace: "dev", serviceaccount: { name: "publisher-1" } },
        },
        identity,
      ),
    ).toBe(false);
    expect(publisherMatches(compiled!, { sub: "x" }, identity)).toBe(false);
  });

  it("refuses shortcuts for a generic issuer and malformed pointers", async () => {
    const list = await problems(
      edited((c) => {
        issuers(c).k8s = { url: "https://kubernetes.default.svc", provider: "generic" };
        publisher(c).ci_issuer = "k8s";
        publisher(c).match = { namespace: "prod", "/a~2b": "x" };
      }),
    );
    expect(list).toEqual([
      'publishers[0].match.namespace: unknown generic shortcut; use a JSON Pointer such as "/claim"',
      'publishers[0].match["/a~2b"]: invalid JSON Pointer (RFC 6901)',
    ]);
  });

  it("refuses an empty match and duplicate publisher ids", async () => {
    const list = await problems(
      edited((c) => {
        (c.publishers as unknown[]).push({ ...publisher(c) });
      }),
    );
    expect(list).toEqual(["publishers[1].id: duplicate publisher id"]);
    const empty = await problems(
      edited((c) => {
        publisher(c).match = {};
      }),
    );
    expect(empty).toEqual(["publishers[0].match: a publisher must match at least one claim"]);
  });

  it("warns when a publisher pins no immutable id", async () => {
    const { warnings } = await load(
      edited((c) => {
        publisher(c).match = { repository: "acme/demo", workflow: "release.yml" };
      }),
    );
    expect(warnings).toEqual([
      expect.stringMatching(/^publishers\[0\]\.match: pins no immutable id/),
    ]);
  });
});

describe("registries", () => {
  it("refuses audiences used by two registries", async () => {
    const list = await problems(
      edited((c) => {
        registries(c).pypi!.audience = "npm:npm.example";
      }),
    );
    expect(list).toEqual([
      "registries.pypi.audience: already used by registries.npm; audiences must be unique",
    ]);
  });
});

describe("ci_issuers", () => {
  it("refuses an http url without allow_http", async () => {
    const list = await problems(
      edited((c) => {
        issuers(c).local = { url: "http://127.0.0.1:9000", provider: "github" };
      }),
    );
    expect(list).toEqual([
      "ci_issuers.local.url: must be https (http only with allow_http: true on a loopback address, for tests)",
    ]);
  });

  it("accepts http with allow_http on loopback only", async () => {
    for (const url of ["http://127.0.0.1:9000", "http://localhost:9000/x", "http://[::1]:9000"]) {
      await expect(
        load(
          edited((c) => {
            issuers(c).local = { url, provider: "github", allow_http: true };
          }),
        ),
      ).resolves.toBeDefined();
    }
    for (const url of ["http://ci.example", "http://10.0.0.1", "http://127.0.0.1.nip.io"]) {
      const list = await problems(
        edited((c) => {
          issuers(c).local = { url, provider: "github", allow_http: true };
        }),
      );
      expect(list).toEqual([expect.stringMatching(/^ci_issuers\.local\.url: must be https/)]);
    }
  });

  it("refuses a url with a query, fragment or credentials", async () => {
    for (const url of [
      "https://ci.example/?a=1",
      "https://ci.example/#x",
      "https://u:p@ci.example",
    ]) {
      const list = await problems(
        edited((c) => {
          issuers(c).other = { url, provider: "gitlab" };
        }),
      );
      expect(list).toEqual([
        "ci_issuers.other.url: must not carry a query, fragment or credentials",
      ]);
    }
  });

  it("refuses trustpub's own issuer as a CI issuer", async () => {
    const list = await problems(
      edited((c) => {
        issuers(c).self = { url: "https://sts.example.com", provider: "generic" };
      }),
    );
    expect(list).toEqual([
      "ci_issuers.self.url: equals trustpub's own issuer; issued tokens must never be accepted as CI tokens",
    ]);
  });

  it("refuses the same url configured twice", async () => {
    const list = await problems(
      edited((c) => {
        issuers(c).again = { url: "https://gitlab.com", provider: "gitlab" };
      }),
    );
    expect(list).toEqual(["ci_issuers.again.url: configured twice"]);
  });

  it("refuses a publisher naming an unknown registry or ci_issuer", async () => {
    const list = await problems(
      edited((c) => {
        publisher(c).registry = "maven-central";
        publisher(c).ci_issuer = "jenkins";
      }),
    );
    expect(list).toEqual([
      "publishers[0].registry: no registry with this id",
      "publishers[0].ci_issuer: no ci_issuer with this id",
    ]);
  });

  it("refuses a static JWKS with no usable key", async () => {
    const list = await problems(
      edited((c) => {
        issuers(c).k8s = {
          url: "https://kubernetes.default.svc",
          provider: "generic",
          jwks_file: "k8s.json",
        };
      }),
      files({ "k8s.json": JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0" }] }) }),
    );
    expect(list).toEqual([expect.stringMatching(/^ci_issuers\.k8s\.jwks_file: holds no usable/)]);
  });
});

describe("signing.keys_file", () => {
  const withKeys = (c: Config) => {
    c.signing = { keys_file: "signing.json" };
  };

  it("loads a private JWKS with exactly one current key", async () => {
    const current = await generatePrivateJwk("EdDSA");
    const next = await generatePrivateJwk("EdDSA", "next");
    const { signingJwks } = await load(
      edited(withKeys),
      files({ "signing.json": JSON.stringify({ keys: [current, next] }) }),
    );
    expect(signingJwks?.keys.map((k) => k.status)).toEqual(["current", "next"]);
  });

  it("refuses two current keys", async () => {
    const keys = [await generatePrivateJwk("ES256"), await generatePrivateJwk("ES256")];
    const list = await problems(
      edited(withKeys),
      files({ "signing.json": JSON.stringify({ keys }) }),
    );
    expect(list).toEqual([
      'signing.keys_file: keys: exactly one key must have status "current" (found 2)',
    ]);
  });

  it("refuses a public key, an unreadable file and text that is not JSON", async () => {
    const { d: _, ...publicOnly } = await generatePrivateJwk("ES256");
    const publicList = await problems(
      edited(withKeys),
      files({ "signing.json": JSON.stringify({ keys: [publicOnly] }) }),
    );
    expect(publicList).toEqual([expect.stringMatching(/^signing\.keys_file: keys\[0\]\.d: /)]);

    const missing = await problems(edited(withKeys), files());
    expect(missing).toEqual([
      expect.stringMatching(/^signing\.keys_file: cannot read signing\.json/),
    ]);

    const garbage = await problems(edited(withKeys), files({ "signing.json": "{keys" }));
    expect(garbage).toEqual(["signing.keys_file: signing.json is not JSON"]);
  });
});

describe("dev.demo_issuer", () => {
  it("is refused unless trustpub's issuer is loopback http", async () => {
    const list = await problems(
      edited((c) => {
        c.dev = { demo_issuer: true };
      }),
    );
    expect(list).toEqual([expect.stringMatching(/^dev\.demo_issuer: /)]);
    await expect(
      load(
        edited((c) => {
          c.dev = { demo_issuer: true };
          c.issuer = "http://127.0.0.1:8080";
        }),
      ),
    ).resolves.toBeDefined();
  });
});
