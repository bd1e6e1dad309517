import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseJsonStrict } from "../../src/lib/json.js";

const verdict = (text: string) => {
  const parsed = parseJsonStrict(text);
  return parsed.ok ? "ok" : parsed.why;
};

describe("parseJsonStrict", () => {
  it.each([
    ['{"a":1,"a":2}', "duplicate member names"],
    ['{"a":1,"\\u0061":2}', "duplicate member names"],
    ['{"x":{"b":[1,{"c":1,"c":2}]}}', "duplicate member names"],
    ['{"a\\"b":1,"a\\"b":2}', "duplicate member names"],
    ['{"\\\\":1,"\\\\":2}', "duplicate member names"],
    ['{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}', "ok"],
    ['{"a":"{\\"a\\":1,\\"a\\":2}","b":"]}[{,"}', "ok"],
    ['{"a\\\\":1,"a":2}', "ok"],
    ['{"é":1,"e\\u0301":2}', "ok"],
    ["[1,2,3]", "ok"],
    ['{"a":1', "not JSON"],
  ])("%s: %s", (text, expected) => {
    expect(verdict(text)).toBe(expected);
  });

  it("accepts whatever JSON.stringify writes, and refuses it with any member repeated", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: "binary", maxLength: 12 }), fc.jsonValue(), {
          minKeys: 1,
          maxKeys: 6,
        }),
        (object) => {
          const text = JSON.stringify(object);
          expect(verdict(text)).toBe("ok");
          const [name] = Object.keys(object);
          const repeated = `${text.slice(0, -1)},${JSON.stringify(name)}:null}`;
          expect(verdict(repeated)).toBe("duplicate member names");
        },
      ),
      { numRuns: 300 },
    );
  });
});
