import { describe, expect, it } from "vitest";
import {
  clientKey,
  compileTrustedProxies,
  formatAddress,
  parseAddress,
  parseCidr,
  resolveClient,
} from "../../src/limits/client-address.js";

const resolve = (peer: string | undefined, xff: string | undefined, trusted: string[]) => {
  const address = resolveClient(peer, xff, compileTrustedProxies(trusted));
  return address && formatAddress(address);
};

describe("addresses", () => {
  it("parses IPv4 strictly and IPv6 per RFC 4291, unmapping IPv4-mapped addresses", () => {
    expect(formatAddress(parseAddress("203.0.113.7")!)).toBe("203.0.113.7");
    expect(formatAddress(parseAddress("::ffff:203.0.113.7")!)).toBe("203.0.113.7");
    expect(formatAddress(parseAddress("2001:DB8:0:0::1")!)).toBe("2001:db8::1");
    expect(formatAddress(parseAddress("fe80::1%eth0")!)).toBe("fe80::1");
    for (const bad of [
      "127.1",
      "0x7f.0.0.1",
      "017.0.0.1",
      "1.2.3.4.5",
      "256.1.1.1",
      "1::2::3",
      "",
      "localhost",
      "1.2.3.4/32",
      "[::1]",
    ]) {
      expect(parseAddress(bad), bad).toBeUndefined();
    }
  });

  it("parses CIDR ranges and bare addresses, refusing everything else", () => {
    expect(parseCidr("10.0.0.0/8")?.[1]).toBe(8);
    expect(parseCidr("10.1.2.3")?.[1]).toBe(32);
    expect(parseCidr("2001:db8::/32")?.[1]).toBe(32);
    expect(parseCidr("::1")?.[1]).toBe(128);
    const mapped = parseCidr("::ffff:10.0.0.0/104")!;
    expect([formatAddress(mapped[0]), mapped[1]]).toEqual(["10.0.0.0", 8]);
    for (const bad of [
      "10.0.0.0/33",
      "::/129",
      "10.0/8",
      "10.0.0.0/",
      "10.0.0.0/-1",
      "10.0.0.0/8/8",
      "fe80::1%eth0/64",
      "example.com/8",
      "10.0.0.0/0x8",
    ]) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
    expect(() => compileTrustedProxies(["10.0.0.0/8", "nope"])).toThrow(/nope/);
  });

  it("matches IPv4 and IPv6 ranges without crossing families", () => {
    const proxies = compileTrustedProxies(["10.0.0.0/8", "2001:db8::/32"]);
    expect(proxies.trusts(parseAddress("10.200.0.1")!)).toBe(true);
    expect(proxies.trusts(parseAddress("11.0.0.1")!)).toBe(false);
    expect(proxies.trusts(parseAddress("2001:db8:ffff::1")!)).toBe(true);
    expect(proxies.trusts(parseAddress("2001:db9::1")!)).toBe(false);
    expect(proxies.trusts(parseAddress("::ffff:10.0.0.1")!)).toBe(true);
    expect(compileTrustedProxies(["0.0.0.0/0"]).trusts(parseAddress("::1")!)).toBe(false);
  });

  it("groups IPv6 clients by /64 and keeps IPv4 clients apart", () => {
    expect(clientKey(parseAddress("2001:db8:1:2:aaaa::1")!)).toBe("2001:db8:1:2::/64");
    expect(clientKey(parseAddress("2001:db8:1:2:bbbb::9")!)).toBe("2001:db8:1:2::/64");
    expect(clientKey(parseAddress("203.0.113.7")!)).toBe("203.0.113.7");
  });
});

describe("X-Forwarded-For", () => {
  it("is ignored unless the peer is a trusted proxy", () => {
    expect(resolve("198.51.100.1", "203.0.113.7", [])).toBe("198.51.100.1");
    expect(resolve("198.51.100.1", "203.0.113.7", ["10.0.0.0/8"])).toBe("198.51.100.1");
  });

  it("names the first hop from the right that is not a trusted proxy", () => {
    const trusted = ["10.0.0.0/8", "fd00::/8"];
    expect(resolve("10.0.0.2", "203.0.113.7", trusted)).toBe("203.0.113.7");
    expect(resolve("10.0.0.2", "203.0.113.7, 10.1.1.1", trusted)).toBe("203.0.113.7");
    // What the client wrote itself, left of the hop our proxy added, is never believed.
    expect(resolve("10.0.0.2", "1.1.1.1, 203.0.113.7", trusted)).toBe("203.0.113.7");
    expect(resolve("10.0.0.2", "2001:db8::5, fd00::1", trusted)).toBe("2001:db8::5");
    expect(resolve("::ffff:10.0.0.2", "[2001:db8::5]:443", trusted)).toBe("2001:db8::5");
    expect(resolve("10.0.0.2", "203.0.113.7:51234", trusted)).toBe("203.0.113.7");
  });

  it("stops at garbage and falls back to the last address a trusted proxy vouched for", () => {
    const trusted = ["10.0.0.0/8"];
    expect(resolve("10.0.0.2", "garbage", trusted)).toBe("10.0.0.2");
    expect(resolve("10.0.0.2", "203.0.113.7, unknown, 10.0.0.9", trusted)).toBe("10.0.0.9");
    expect(resolve("10.0.0.2", "", trusted)).toBe("10.0.0.2");
    expect(resolve("10.0.0.2", "10.0.0.3, 10.0.0.4", trusted)).toBe("10.0.0.3");
  });

  it("reads a bounded number of hops and leaves an unknown peer unknown", () => {
    const long = `${Array.from({ length: 10_000 }, () => "10.0.0.1").join(",")}`;
    expect(resolve("10.0.0.2", long, ["10.0.0.0/8"])).toBe("10.0.0.1");
    expect(resolve(undefined, "203.0.113.7", ["10.0.0.0/8"])).toBeUndefined();
  });
});
