import { describe, expect, it } from "vitest";
import {
  assertSafeRegex,
  compileMatcher,
  globToRegexSource,
  MatcherError,
  type MatcherSpec,
  matcherSchema,
} from "../../src/policy/matcher.js";
import {
  compilePackagePattern,
  isPlausiblePackageName,
  normalizePackage,
  permissionCovers,
} from "../../src/policy/packages.js";

/**
 * src/policy/matcher.ts and src/policy/packages.ts: the comparisons every
 * publisher decision rests on. Case folding is ASCII-only, patterns are
 * anchored, and package names compare by each registry's own rules.
 */

const KELVIN = "\u212a"; // KELVIN SIGN: Unicode folds it to "k"
const LONG_S = "\u017f"; // LATIN SMALL LETTER LONG S: Unicode folds it to "s"

const PASS = { ok: true };
const MISMATCH = { ok: false, why: "mismatch" };
const ABSENT = { ok: false, why: "absent" };
const WRONG_TYPE = { ok: false, why: "wrong_type" };

function matches(spec: MatcherSpec, value: unknown, caseInsensitive = false): boolean {
  return compileMatcher(spec, caseInsensitive).test(value).ok;
}

describe("matcher forms", () => {
  it("a plain string is equality, exact by default", () => {
    const m = compileMatcher("acme/demo");
    expect(m.kind).toBe("equals");
    expect(m.test("acme/demo")).toEqual(PASS);
    expect(m.test("Acme/Demo")).toEqual(MISMATCH);
    expect(m.test("acme/demo ")).toEqual(MISMATCH);
    expect(m.test(undefined)).toEqual(ABSENT);
    expect(m.test(["acme/demo"])).toEqual(WRONG_TYPE);
    expect(m.test(42)).toEqual(WRONG_TYPE);
  });

  it("a plain string folds ASCII case where the provider says so", () => {
    expect(matches("acme/demo", "Acme/DEMO", true)).toBe(true);
    expect(matches("Acme/Demo", "acme/demo", true)).toBe(true);
    expect(matches("acme/demo", "acme/demo2", true)).toBe(false);
  });

  it("numbers and booleans compare by value and type", () => {
    expect(compileMatcher(42).test(42)).toEqual(PASS);
    expect(compileMatcher(42).test("42")).toEqual(MISMATCH);
    expect(compileMatcher(42).test(undefined)).toEqual(ABSENT);
    expect(compileMatcher(true).test(true)).toEqual(PASS);
    expect(compileMatcher(true).test("true")).toEqual(MISMATCH);
    expect(compileMatcher(false).test(0)).toEqual(MISMATCH);
  });

  it("{equals, case} overrides the provider's default either way", () => {
    expect(matches({ equals: "Release" }, "release")).toBe(false);
    expect(matches({ equals: "Release", case: "insensitive" }, "rELEASE")).toBe(true);
    expect(matches({ equals: "Release", case: "sensitive" }, "release", true)).toBe(false);
    expect(matches({ equals: "Release", case: "sensitive" }, "Release", true)).toBe(true);
    expect(matches({ equals: "release" }, "RELEASE", true)).toBe(true);
  });

  it("{one_of} accepts any listed value", () => {
    const m = compileMatcher({ one_of: ["main", "release"] });
    expect(m.kind).toBe("one_of");
    expect(m.test("main")).toEqual(PASS);
    expect(m.test("release")).toEqual(PASS);
    expect(m.test("Main")).toEqual(MISMATCH);
    expect(m.test("mainline")).toEqual(MISMATCH);
    expect(matches({ one_of: ["main", "release"] }, "MAIN", true)).toBe(true);
  });

  it("{contains} needs an array holding the value", () => {
    const m = compileMatcher({ contains: "ctx-1" });
    expect(m.test(["ctx-0", "ctx-1"])).toEqual(PASS);
    expect(m.test(["ctx-0"])).toEqual(MISMATCH);
    expect(m.test([])).toEqual(MISMATCH);
    expect(m.test("ctx-1")).toEqual(WRONG_TYPE);
    expect(m.test([["ctx-1"]])).toEqual(MISMATCH);
    expect(m.test(undefined)).toEqual(ABSENT);
    expect(matches({ contains: "ctx-1" }, ["CTX-1"], true)).toBe(true);
    expect(matches({ contains: "ctx-1" }, ["CTX-1"])).toBe(false);
  });

  it("{present} checks existence only", () => {
    expect(matches({ present: true }, "")).toBe(true);
    expect(matches({ present: true }, null)).toBe(true);
    expect(matches({ present: true }, undefined)).toBe(false);
    expect(matches({ present: false }, undefined)).toBe(true);
    expect(matches({ present: false }, "x")).toBe(false);
  });

  it("the schema accepts exactly the documented forms", () => {
    const good: unknown[] = [
      "x",
      1,
      true,
      { equals: "x" },
      { equals: "x", case: "insensitive" },
      { glob: "refs/tags/v*" },
      { regex: "a|b" },
      { one_of: ["a"] },
      { contains: "a" },
      { present: true },
    ];
    for (const spec of good) expect(matcherSchema.safeParse(spec).success).toBe(true);
    const bad: unknown[] = [
      null,
      ["a"],
      { prefix: "refs/" },
      { glob: "" },
      { glob: "a", regex: "b" },
      { equals: "x", case: "upper" },
      { one_of: [] },
      { regex: "a".repeat(257) },
      { present: "yes" },
    ];
    for (const spec of bad) expect(matcherSchema.safeParse(spec).success).toBe(false);
  });
});

describe("globs", () => {
  it("* matches within one path segment, ** across segments", () => {
    expect(matches({ glob: "refs/tags/v*" }, "refs/tags/v1.2.3")).toBe(true);
    expect(matches({ glob: "refs/tags/v*" }, "refs/tags/v")).toBe(true);
    expect(matches({ glob: "refs/tags/v*" }, "refs/tags/v1/evil")).toBe(false);
    expect(matches({ glob: "refs/heads/*" }, "refs/heads/feature/x")).toBe(false);
    expect(matches({ glob: "refs/heads/**" }, "refs/heads/feature/x")).toBe(true);
    expect(matches({ glob: "refs/heads/**" }, "refs/heads/main")).toBe(true);
    expect(matches({ glob: "**/release.yml" }, "acme/demo/.github/workflows/release.yml")).toBe(
      true,
    );
    expect(matches({ glob: "*/release.yml" }, "acme/demo/release.yml")).toBe(false);
  });

  it("is anchored at both ends", () => {
    expect(matches({ glob: "refs/tags/v*" }, "refs/heads/v1")).toBe(false);
    expect(matches({ glob: "refs/tags/v*" }, "x/refs/tags/v1")).toBe(false);
    expect(matches({ glob: "v*.0" }, "v1.0-evil")).toBe(false);
  });

  it("treats every other character literally", () => {
    expect(matches({ glob: "release.yml" }, "releaseXyml")).toBe(false);
    expect(matches({ glob: "a?b" }, "axb")).toBe(false);
    expect(matches({ glob: "a?b" }, "a?b")).toBe(true);
    expect(matches({ glob: "v[0-9]" }, "v1")).toBe(false);
    expect(matches({ glob: "v[0-9]" }, "v[0-9]")).toBe(true);
    expect(matches({ glob: "(a|b)+" }, "a")).toBe(false);
    expect(matches({ glob: "^a$" }, "^a$")).toBe(true);
    expect(globToRegexSource("a.b*c**")).toBe("a\\.b[^/]*c.*");
  });

  it("folds ASCII case only when asked", () => {
    expect(matches({ glob: "Acme/*" }, "acme/demo", true)).toBe(true);
    expect(matches({ glob: "Acme/*" }, "acme/demo")).toBe(false);
  });
});

describe("regular expressions", () => {
  it("are anchored: a|b does not match a-evil", () => {
    const m = compileMatcher({ regex: "a|b" });
    expect(m.kind).toBe("regex");
    expect(m.test("a")).toEqual(PASS);
    expect(m.test("b")).toEqual(PASS);
    expect(m.test("a-evil")).toEqual(MISMATCH);
    expect(m.test("evil-b")).toEqual(MISMATCH);
    expect(m.test("ab")).toEqual(MISMATCH);
    expect(m.test(undefined)).toEqual(ABSENT);
    expect(m.test(1)).toEqual(WRONG_TYPE);
  });

  it("cannot escape the anchors with their own", () => {
    expect(matches({ regex: "^main$|.*" }, "anything")).toBe(true);
    expect(matches({ regex: "main$|^x" }, "main\nevil")).toBe(false);
    expect(matches({ regex: "release" }, "release\n")).toBe(false);
  });

  it("are case-sensitive unless the key is", () => {
    expect(matches({ regex: "release-[a-z]+" }, "Release-x")).toBe(false);
    expect(matches({ regex: "release-[a-z]+" }, "Release-X", true)).toBe(true);
  });

  it("refuses patterns that can backtrack badly", () => {
    for (const source of [
      "(a+)+",
      "(a|aa)*",
      "(a*)*b",
      "((ab)*)+",
      "(a+){2,}",
      "x(?=y)",
      "(?<!x)y",
      "(a)\\1",
      "(?<n>a)\\k<n>",
    ]) {
      expect(() => assertSafeRegex(source), source).toThrow(MatcherError);
      expect(() => compileMatcher({ regex: source }), source).toThrow(MatcherError);
    }
  });

  it("accepts ordinary patterns, escapes and classes", () => {
    for (const source of [
      "refs/tags/v[0-9]+\\.[0-9]+\\.[0-9]+",
      "(main|develop)",
      "release-(a|b)?",
      "\\(a+\\)+",
      "[(a+)+]",
      "acme/[a-z0-9-]+",
    ]) {
      expect(() => assertSafeRegex(source), source).not.toThrow();
    }
    expect(matches({ regex: "\\(a+\\)+" }, "(aa)))")).toBe(true);
    expect(matches({ regex: "[(a+)+]" }, "+")).toBe(true);
  });

  it("refuses an invalid pattern at compile time", () => {
    expect(() => compileMatcher({ regex: "refs/[" })).toThrow(/invalid regular expression/);
    expect(() => compileMatcher({ regex: "a{2" })).toThrow(MatcherError);
  });

  it("answers fast on long hostile input", () => {
    const m = compileMatcher({ regex: "[a-z]+(-[a-z]+)?" });
    const started = performance.now();
    expect(m.test(`${"a".repeat(100_000)}!`)).toEqual(MISMATCH);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe("case folding is ASCII-only", () => {
  it("the Kelvin sign is not k, and the long s is not s", () => {
    expect(matches("kit", `${KELVIN}it`, true)).toBe(false);
    expect(matches("KIT", `${KELVIN}IT`, true)).toBe(false);
    expect(matches("release", `relea${LONG_S}e`, true)).toBe(false);
    expect(matches({ equals: "kit", case: "insensitive" }, `${KELVIN}it`)).toBe(false);
    expect(matches({ one_of: ["kit"] }, `${KELVIN}it`, true)).toBe(false);
    expect(matches({ glob: "k*" }, `${KELVIN}it`, true)).toBe(false);
    expect(matches({ contains: "kit" }, [`${KELVIN}it`], true)).toBe(false);
  });

  it("also in case-insensitive regular expressions", () => {
    expect(matches({ regex: "kit|release" }, "KIT", true)).toBe(true);
    expect(matches({ regex: "kit|release" }, `${KELVIN}it`, true)).toBe(false);
    expect(matches({ regex: "[a-z]+" }, `${KELVIN}it`, true)).toBe(false);
    expect(matches({ regex: "s+" }, LONG_S, true)).toBe(false);
  });

  it("leaves other non-ASCII letters unfolded", () => {
    expect(matches("straße", "STRASSE", true)).toBe(false);
    expect(matches("é", "É", true)).toBe(false);
    expect(matches("acme", "\uff41cme", true)).toBe(false); // full-width a
  });
});

describe("package names", () => {
  it("PyPI normalises as PEP 503: runs of - _ . are one -, ASCII lower case", () => {
    expect(normalizePackage("pypi", "Acme_Demo")).toBe("acme-demo");
    expect(normalizePackage("pypi", "acme.demo")).toBe("acme-demo");
    expect(normalizePackage("pypi", "ACME--_.demo")).toBe("acme-demo");
    expect(normalizePackage("pypi", "Friendly-Bard")).toBe("friendly-bard");
    expect(normalizePackage("pypi", `${KELVIN}it`)).not.toBe("kit");
  });

  it("crates.io ignores case and treats - and _ alike", () => {
    expect(normalizePackage("cargo", "Serde_Json")).toBe("serde-json");
    expect(normalizePackage("cargo", "serde-json")).toBe("serde-json");
    expect(normalizePackage("cargo", "serde.json")).toBe("serde.json");
  });

  it("NuGet ids ignore case only", () => {
    expect(normalizePackage("nuget", "Newtonsoft.Json")).toBe("newtonsoft.json");
    expect(normalizePackage("nuget", "Acme_Demo")).toBe("acme_demo");
  });

  it("npm, RubyGems and generic compare exactly", () => {
    for (const flavor of ["npm", "rubygems", "generic"] as const) {
      expect(normalizePackage(flavor, "@Acme/Demo_x.y")).toBe("@Acme/Demo_x.y");
    }
  });

  it("exact package patterns compare normalised names", () => {
    expect(compilePackagePattern("pypi", "acme-demo").matches("Acme_Demo")).toBe(true);
    expect(compilePackagePattern("pypi", "Acme.Demo").matches("acme-demo")).toBe(true);
    expect(compilePackagePattern("pypi", "acme-demo").matches("acme-demo2")).toBe(false);
    expect(compilePackagePattern("cargo", "serde_json").matches("Serde-Json")).toBe(true);
    expect(compilePackagePattern("nuget", "Acme.Demo").matches("ACME.DEMO")).toBe(true);
    expect(compilePackagePattern("nuget", "Acme.Demo").matches("Acme-Demo")).toBe(false);
    expect(compilePackagePattern("npm", "@acme/demo").matches("@Acme/demo")).toBe(false);
    expect(compilePackagePattern("npm", "@acme/demo").matches("@acme/demo")).toBe(true);
    expect(compilePackagePattern("rubygems", "acme_demo").matches("acme-demo")).toBe(false);
    expect(compilePackagePattern("nuget", "kit").matches(`${KELVIN}IT`)).toBe(false);
  });

  it("package globs match by the flavor's rules and stay anchored", () => {
    const npm = compilePackagePattern("npm", "@acme/demo-*");
    expect(npm.source).toBe("@acme/demo-*");
    expect(npm.matches("@acme/demo-cli")).toBe(true);
    expect(npm.matches("@acme/demo")).toBe(false);
    expect(npm.matches("@acme/other")).toBe(false);
    expect(npm.matches("@evil/acme/demo-cli")).toBe(false);
    expect(npm.matches("@Acme/demo-cli")).toBe(false);

    const scope = compilePackagePattern("npm", "@acme/*");
    expect(scope.matches("@acme/anything")).toBe(true);
    expect(scope.matches("@acmex/anything")).toBe(false);

    const pypi = compilePackagePattern("pypi", "acme_*");
    expect(pypi.matches("Acme.Tools")).toBe(true);
    expect(pypi.matches("acme--cli")).toBe(true);
    expect(pypi.matches("acmetools")).toBe(false);

    const dots = compilePackagePattern("nuget", "Acme.*");
    expect(dots.matches("acme.core")).toBe(true);
    expect(dots.matches("acmeXcore")).toBe(false);
  });

  it("publish implies read, nothing else implies anything", () => {
    expect(permissionCovers("publish", "publish")).toBe(true);
    expect(permissionCovers("publish", "read")).toBe(true);
    expect(permissionCovers("publish", "yank")).toBe(false);
    expect(permissionCovers("read", "publish")).toBe(false);
    expect(permissionCovers("yank", "read")).toBe(false);
    expect(permissionCovers("yank", "yank")).toBe(true);
  });

  it("plausible names are printable ASCII of registry length", () => {
    expect(isPlausiblePackageName("@acme/demo")).toBe(true);
    expect(isPlausiblePackageName("")).toBe(false);
    expect(isPlausiblePackageName("a".repeat(215))).toBe(false);
    expect(isPlausiblePackageName("acme demo")).toBe(false);
    expect(isPlausiblePackageName("acme\u0000")).toBe(false);
    expect(isPlausiblePackageName("äcme")).toBe(false);
  });
});
