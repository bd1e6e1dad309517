import { describe, expect, it } from "vitest";
import { randomJti } from "../../src/tokens/mint.js";

describe("randomJti", () => {
  it("gives 128-bit base64url ids, never the same one twice, across many refills of its pool", () => {
    const seen = new Set<string>();
    // 256 ids per refill: 5,000 ids cross about twenty refills.
    for (let i = 0; i < 5_000; i++) {
      const jti = randomJti();
      expect(jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
      seen.add(jti);
    }
    expect(seen.size).toBe(5_000);
  });

  it("uses every bit: each of the 22 positions takes many values", () => {
    const ids = Array.from({ length: 2_000 }, () => randomJti());
    for (let position = 0; position < 21; position++) {
      const values = new Set(ids.map((id) => id[position]));
      expect(values.size).toBeGreaterThan(40);
    }
    // The last character holds the 128th-bit remainder: 2 bits, 4 values.
    expect(new Set(ids.map((id) => id[21])).size).toBe(4);
  });
});
