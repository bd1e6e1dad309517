import { RE2JS } from "re2js";
import { z } from "zod";
import { asciiLower } from "../lib/ascii.js";

/**
 * The matcher forms of a publisher's `match` values (SPEC section 3).
 * Compiled once at load; a compiled matcher is a pure function of the claim.
 * Globs and regexes run on RE2 (re2js): matching takes time linear in the
 * claim's length whatever the pattern, so no policy can be made to backtrack
 * (`.*a.*a.*b` or `**a**b` against a long claim would take minutes on a
 * backtracking engine). Regexes use RE2 syntax, as Go and octo-sts do.
 */
export const matcherSchema = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.strictObject({ equals: z.string(), case: z.enum(["sensitive", "insensitive"]).optional() }),
  z.strictObject({ glob: z.string().min(1).max(512) }),
  z.strictObject({ regex: z.string().min(1).max(256) }),
  z.strictObject({ one_of: z.array(z.string()).min(1).max(256) }),
  z.strictObject({ contains: z.string() }),
  z.strictObject({ present: z.boolean() }),
]);

export type MatcherSpec = z.infer<typeof matcherSchema>;

export type MatchOutcome = { ok: true } | { ok: false; why: "absent" | "wrong_type" | "mismatch" };

export interface CompiledMatcher {
  /** The matcher's form, for explanations ("equals", "glob", ...). */
  readonly kind: string;
  test(value: unknown): MatchOutcome;
}

export class MatcherError extends Error {
  override readonly name = "MatcherError";
}

/** The characters that `iu` regex matching folds onto ASCII letters: long s and the Kelvin sign. */
const FOLDS_INTO_ASCII = /[\u017f\u212a]/u;

const PASS: MatchOutcome = { ok: true };
const ABSENT: MatchOutcome = { ok: false, why: "absent" };
const WRONG_TYPE: MatchOutcome = { ok: false, why: "wrong_type" };
const MISMATCH: MatchOutcome = { ok: false, why: "mismatch" };

/**
 * @param caseInsensitive the provider's default for this key (GitHub owner,
 *   repository and environment); `{equals, case}` overrides it.
 */
export function compileMatcher(spec: MatcherSpec, caseInsensitive = false): CompiledMatcher {
  if (typeof spec === "number" || typeof spec === "boolean") {
    return { kind: "equals", test: (v) => outcome(v, v === spec) };
  }
  if (typeof spec === "string")
    return stringMatcher("equals", caseInsensitive, (v) => v === fold(spec, caseInsensitive));
  if ("equals" in spec) {
    const ci = spec.case === undefined ? caseInsensitive : spec.case === "insensitive";
    const expected = fold(spec.equals, ci);
    return stringMatcher("equals", ci, (v) => v === expected);
  }
  if ("glob" in spec) {
    const re = RE2JS.compile(globToRegexSource(fold(spec.glob, caseInsensitive)), RE2JS.DOTALL);
    return stringMatcher("glob", caseInsensitive, (v) => re.matches(v));
  }
  if ("regex" in spec) {
    assertSafeRegex(spec.regex);
    let re: RE2JS;
    try {
      // Valid for both engines: JavaScript's `u` syntax (which refuses `a{2` and stray escapes)
      // is checked by compiling only; RE2 is what runs.
      new RegExp(`^(?:${spec.regex})$`, caseInsensitive ? "iu" : "u");
      re = RE2JS.compile(`(?:${spec.regex})`, caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
    } catch (cause) {
      throw new MatcherError(`invalid regular expression: ${(cause as Error).message}`);
    }
    // With case folding, U+017F (long s) equals "s" and U+212A (Kelvin sign) equals "k",
    // the only non-ASCII characters folded onto ASCII letters. Case is ASCII-only here
    // (as in `fold`), so a value holding either never matches.
    return stringMatcher(
      "regex",
      false,
      (v) => !(caseInsensitive && FOLDS_INTO_ASCII.test(v)) && re.matches(v),
    );
  }
  if ("one_of" in spec) {
    const allowed = new Set(spec.one_of.map((s) => fold(s, caseInsensitive)));
    return stringMatcher("one_of", caseInsensitive, (v) => allowed.has(v));
  }
  if ("contains" in spec) {
    const wanted = fold(spec.contains, caseInsensitive);
    return {
      kind: "contains",
      test(value) {
        if (value === undefined) return ABSENT;
        if (!Array.isArray(value)) return WRONG_TYPE;
        return value.some(
          (item) => typeof item === "string" && fold(item, caseInsensitive) === wanted,
        )
          ? PASS
          : MISMATCH;
      },
    };
  }
  const wantPresent = spec.present;
  return { kind: "present", test: (v) => ((v !== undefined) === wantPresent ? PASS : MISMATCH) };
}

function fold(value: string, caseInsensitive: boolean): string {
  return caseInsensitive ? asciiLower(value) : value;
}

function outcome(value: unknown, ok: boolean): MatchOutcome {
  if (ok) return PASS;
  return value === undefined ? ABSENT : MISMATCH;
}

function stringMatcher(
  kind: string,
  ci: boolean,
  test: (folded: string) => boolean,
): CompiledMatcher {
  return {
    kind,
    test(value) {
      if (value === undefined) return ABSENT;
      if (typeof value !== "string") return WRONG_TYPE;
      return test(fold(value, ci)) ? PASS : MISMATCH;
    },
  };
}

/** `*` matches any run of characters except `/`; `**` also matches `/`. RE2 syntax. */
export function globToRegexSource(glob: string): string {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        out += ".*";
        i++;
      } else {
        out += "[^/]*";
      }
    } else {
      out += c.replace(/[\\^$.|?+()[\]{}]/g, "\\$&");
    }
  }
  return out;
}

/**
 * Refuses patterns that would backtrack badly on a backtracking engine,
 * before they are ever compiled: backreferences, lookarounds, and a
 * quantifier applied to a group that itself holds a quantifier or an
 * alternation (`(a+)+`, `(a|aa)*`). RE2 already runs every pattern in linear
 * time; refusing these keeps policies portable to any engine.
 */
export function assertSafeRegex(source: string): void {
  if (/\\[1-9]|\\k</.test(source))
    throw new MatcherError("backreferences are not allowed in a regex matcher");
  if (/\(\?<?[=!]/.test(source))
    throw new MatcherError("lookarounds are not allowed in a regex matcher");
  // Each open group records whether it holds a quantifier or an alternation.
  const stack: boolean[] = [];
  let risky = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\") {
      i++;
      continue;
    }
    if (c === "[") {
      i = skipClass(source, i);
      continue;
    }
    if (c === "(") {
      stack.push(false);
      continue;
    }
    if (c === ")") {
      const inner = stack.pop() ?? false;
      const next = source[i + 1];
      const quantified = next === "*" || next === "+" || next === "{" || next === "?";
      if (inner && quantified && next !== "?") risky = true;
      if (stack.length > 0 && (inner || quantified)) stack[stack.length - 1] = true;
      continue;
    }
    if ((c === "*" || c === "+" || c === "{" || c === "|") && stack.length > 0)
      stack[stack.length - 1] = true;
  }
  if (risky)
    throw new MatcherError("a quantified group may not hold another quantifier or an alternation");
}

function skipClass(source: string, start: number): number {
  for (let i = start + 1; i < source.length; i++) {
    if (source[i] === "\\") i++;
    else if (source[i] === "]") return i;
  }
  return source.length;
}
