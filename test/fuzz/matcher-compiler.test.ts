import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileMatcher, MatcherError } from "../../src/policy/matcher.js";
import { params, timeoutFor } from "./settings.js";

/** Longest claim value a CI token can carry (the token itself is capped at 16 KiB). */
const LONG = 16 * 1024;

/** Regex source from a small grammar that favours what backtracks: nesting, quantifiers, alternation. */
const regexSource: fc.Arbitrary<string> = fc.letrec((tie) => ({
  atom: fc.oneof(
    fc.constantFrom("a", "b", ".", "\\d", "\\w", "\\s", "[a-z]", "[^/]", "[ab]", "\\.", "-", "/"),
    tie("group"),
  ),
  group: fc.oneof(
    { depthSize: "small" },
    tie("seq").map((s) => `(${s})`),
    tie("seq").map((s) => `(?:${s})`),
    fc.tuple(tie("seq"), tie("seq")).map(([a, b]) => `(${a}|${b})`),
  ),
  quantified: fc
    .tuple(tie("atom"), fc.constantFrom("", "*", "+", "?", "{2,}", "{1,3}", "*?", "+?"))
    .map(([a, q]) => `${a}${q}`),
  seq: fc.array(tie("quantified"), { minLength: 1, maxLength: 6 }).map((parts) => parts.join("")),
})).seq as fc.Arbitrary<string>;

const globSource = fc
  .array(fc.constantFrom("*", "**", "/", "a", "b", ".", "v", "-", "?", "[", "]", "\\"), {
    minLength: 1,
    maxLength: 24,
  })
  .map((parts) => parts.join(""));

/** Values built to make a backtracking engine explode on the patterns above. */
const nasty = fc
  .tuple(
    fc.constantFrom("a", "b", "/", ".", "ab", "a/", "0"),
    fc.constantFrom("", "!", "\n", "/", "b"),
    fc.integer({ min: 1, max: LONG }),
  )
  .map(
    ([unit, tail, length]) =>
      `${unit.repeat(Math.ceil(length / unit.length)).slice(0, length)}${tail}`,
  );

function compileOrRefuse(spec: Parameters<typeof compileMatcher>[0], ci: boolean) {
  try {
    return compileMatcher(spec, ci);
  } catch (err) {
    expect(err).toBeInstanceOf(MatcherError);
    return undefined;
  }
}

function timedTest(matcher: ReturnType<typeof compileMatcher>, value: string): number {
  const started = performance.now();
  const outcome = matcher.test(value);
  const ms = performance.now() - started;
  expect(outcome.ok || outcome.why === "mismatch").toBe(true);
  return ms;
}

describe("fuzz: the matcher compiler", () => {
  it(
    "compiles or refuses any regex, and an accepted one runs in linear time on the longest claims",
    () => {
      fc.assert(
        fc.property(regexSource, nasty, fc.boolean(), (source, value, ci) => {
          const matcher = compileOrRefuse({ regex: source }, ci);
          if (matcher) expect(timedTest(matcher, value)).toBeLessThan(500);
        }),
        params(),
      );
    },
    timeoutFor(),
  );

  it(
    "compiles or refuses any glob, and matching stays fast",
    () => {
      fc.assert(
        fc.property(globSource, nasty, fc.boolean(), (glob, value, ci) => {
          const matcher = compileOrRefuse({ glob }, ci);
          if (matcher) expect(timedTest(matcher, value)).toBeLessThan(500);
        }),
        params(),
      );
    },
    timeoutFor(),
  );

  it("never hangs on the classic catastrophic patterns, and refuses the nested ones at load", () => {
    const polynomial = [".*.*.*x", "a*a*a*a*x", ".*a.*a.*a.*a.*b", "[a-z]*[a-z]*[a-z]*[a-z]*!"];
    const nested = [
      "(a+)+",
      "(a|aa)*",
      "(a*)*",
      "(\\w+\\s?)+",
      "((ab)*)+",
      "(.*a){20}",
      "(?:.*,){11}P",
    ];
    for (const source of nested)
      expect(() => compileMatcher({ regex: source })).toThrow(MatcherError);
    for (const source of polynomial) {
      const matcher = compileMatcher({ regex: source });
      expect(timedTest(matcher, `${"a".repeat(LONG)}!`)).toBeLessThan(500);
    }
    for (const glob of ["**a**a**a**b", "*a*a*a*a*b", "**/**/**/**/x"]) {
      const matcher = compileMatcher({ glob });
      expect(timedTest(matcher, `${"a/".repeat(LONG / 2)}!`)).toBeLessThan(500);
    }
  });

  it("anchors every pattern: an accepted regex never matches a value with something appended", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("a|b", "v[0-9]+", "release", "refs/tags/.*"),
        fc.constantFrom("-evil", "\n", "\u0000", " "),
        (source, suffix) => {
          const matcher = compileMatcher({ regex: source });
          const base =
            source === "a|b"
              ? "a"
              : source === "v[0-9]+"
                ? "v1"
                : source === "release"
                  ? "release"
                  : "refs/tags/x";
          expect(matcher.test(base).ok).toBe(true);
          const appended = matcher.test(`${base}${suffix}`).ok;
          if (source !== "refs/tags/.*" || suffix === "\n") expect(appended).toBe(false);
          expect(matcher.test(`x${base}`).ok).toBe(false);
        },
      ),
      params(50),
    );
  });
});
