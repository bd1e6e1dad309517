import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { installSha256, sha256Hex } from "../../src/lib/sha256.js";

const nodeHash = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

describe("sha256Hex", () => {
  afterEach(() => installSha256(undefined));

  // FIPS 180-2 appendix B.1 and B.2, and texts a CI token's iss/jti may hold.
  const vectors: [string, string][] = [
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    [
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ],
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
  ];

  it.each(vectors)("WebCrypto hashes %j to the published digest", async (text, digest) => {
    expect(await sha256Hex(text)).toBe(digest);
  });

  it("an installed synchronous hash is used, and agrees with WebCrypto on every input", async () => {
    const texts = [
      ...vectors.map(([t]) => t),
      "https://token.actions.githubusercontent.com\u0000b7a1c4e0-jti",
      "r\u00e9lease \u{1F680} \u017F \u212A",
      "x".repeat(5000),
    ];
    const viaWebCrypto = await Promise.all(texts.map((t) => sha256Hex(t)));
    let calls = 0;
    installSha256((text) => {
      calls++;
      return nodeHash(text);
    });
    const viaInstalled = await Promise.all(texts.map((t) => sha256Hex(t)));
    expect(calls).toBe(texts.length);
    expect(viaInstalled).toEqual(viaWebCrypto);
  });
});
