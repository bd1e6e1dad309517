import ipaddr from "ipaddr.js";

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;
type Range = readonly [IpAddress, number];

/** Hops of X-Forwarded-For read from the right at most; proxy chains are short. */
const MAX_HOPS = 32;

/**
 * Parses one address strictly: IPv4 only as four decimal parts (never the
 * legacy `127.1` or `0x7f.0.0.1` forms), IPv6 as RFC 4291 text; an
 * IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack socket
 * reports) becomes its IPv4 address; a zone id is dropped.
 */
export function parseAddress(text: string): IpAddress | undefined {
  const value = text.trim();
  if (ipaddr.IPv4.isValidFourPartDecimal(value)) return ipaddr.IPv4.parse(value);
  if (!value.includes(":") || !ipaddr.IPv6.isValid(value)) return undefined;
  const address = ipaddr.IPv6.parse(value);
  if (address.isIPv4MappedAddress()) return address.toIPv4Address();
  address.zoneId = undefined;
  return address;
}

/**
 * `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128). An
 * IPv4-mapped IPv6 range of /96 or longer is read as the IPv4 range it maps.
 * Undefined when the text is not exactly one of these.
 */
export function parseCidr(text: string): Range | undefined {
  const value = text.trim();
  const slash = value.indexOf("/");
  if (slash === -1) {
    const address = parseAddress(value);
    return address && [address, address.kind() === "ipv4" ? 32 : 128];
  }
  const bitsText = value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  const address = value.slice(0, slash);
  if (ipaddr.IPv4.isValidFourPartDecimal(address)) {
    return bits <= 32 ? [ipaddr.IPv4.parse(address), bits] : undefined;
  }
  if (!address.includes(":") || !ipaddr.IPv6.isValid(address) || bits > 128) return undefined;
  const v6 = ipaddr.IPv6.parse(address);
  if (v6.zoneId !== undefined) return undefined;
  if (v6.isIPv4MappedAddress() && bits >= 96) return [v6.toIPv4Address(), bits - 96];
  return [v6, bits];
}

export interface TrustedProxies {
  readonly size: number;
  trusts(address: IpAddress): boolean;
}

/** The `rate_limits.trusted_proxies` list, compiled; throws on an entry that is not a CIDR. */
export function compileTrustedProxies(entries: readonly string[]): TrustedProxies {
  const ranges = entries.map((entry) => {
    const range = parseCidr(entry);
    if (!range) throw new Error(`not an IPv4 or IPv6 address or CIDR range: ${entry}`);
    return range;
  });
  return {
    size: ranges.length,
    trusts: (address) =>
      ranges.some(
        ([network, bits]) => network.kind() === address.kind() && address.match(network, bits),
      ),
  };
}

/** An X-Forwarded-For hop: an address, maybe bracketed or with a port (`[::1]:443`, `10.0.0.1:80`). */
function parseHop(hop: string): IpAddress | undefined {
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(hop);
  if (bracketed) return parseAddress(bracketed[1]!);
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(hop);
  return parseAddress(withPort ? withPort[1]! : hop);
}

/**
 * The address a request comes from. The peer (the socket's remote address)
 * unless it is a trusted proxy; then X-Forwarded-For is read from the right,
 * each hop added by a proxy we trust, and the first hop that is not a trusted
 * proxy is the client. A hop that is not an address stops the walk at the
 * last address a trusted proxy vouched for. Entries to its left were written
 * by the client itself and are never believed.
 */
export function resolveClient(
  peer: string | undefined,
  forwardedFor: string | undefined,
  proxies: TrustedProxies,
): IpAddress | undefined {
  const peerAddress = peer === undefined ? undefined : parseAddress(peer);
  if (!peerAddress) return undefined;
  if (proxies.size === 0 || !forwardedFor || !proxies.trusts(peerAddress)) return peerAddress;
  const hops = forwardedFor.split(",").slice(-MAX_HOPS);
  let client = peerAddress;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parseHop(hops[i]!.trim());
    if (!hop) break;
    client = hop;
    if (!proxies.trusts(hop)) break;
  }
  return client;
}

/**
 * The key a client is limited under: an IPv4 address, or the /64 an IPv6
 * address lies in (one host usually holds a whole /64, so a per-address
 * limit would be no limit).
 */
export function clientKey(address: IpAddress): string {
  if (address.kind() === "ipv4") return address.toString();
  const parts = (address as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toRFC5952String()}/64`;
}

export function formatAddress(address: IpAddress): string {
  return address.kind() === "ipv4"
    ? address.toString()
    : (address as ipaddr.IPv6).toRFC5952String();
}
