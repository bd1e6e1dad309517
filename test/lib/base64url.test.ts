import fc from "fast-check";
import { base64url } from "jose";
import { describe, expect, it } from "vitest";
import { decodeBase64Url } from "../../src/lib/base64url.js";

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

describe("decodeBase64Url", () => {
  it("decodes exactly as jose does, and refuses exactly what jose refuses", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 64 }), (text) => {
        let expected: Uint8Array | "refused";
        try {
          expected = base64url.decode(text);
        } catch {
          expected = "refused";
        }
        let actual: Uint8Array | "refused";
        try {
          actual = new Uint8Array(decodeBase64Url(text));
        } catch {
          actual = "refused";
        }
        expect(actual).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it("round-trips bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(new Uint8Array(decodeBase64Url(base64url.encode(bytes)))).toEqual(bytes);
      }),
    );
  });
});
