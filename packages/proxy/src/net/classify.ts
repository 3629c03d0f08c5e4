import { cidr, cidrContains, type Cidr } from './cidr.js';
import { ipv4FromBytes, type IpAddress } from './ip.js';

/**
 * What kind of destination an address is. Everything but `public` is refused for egress unless
 * the address lies inside `WORKCELL_EGRESS_ALLOW_PRIVATE`.
 */
export type AddressClass =
  | 'public'
  | 'loopback'
  | 'unspecified'
  | 'link-local'
  | 'metadata'
  | 'private'
  | 'carrier-grade-nat'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'local-interface';

/** Ordered: the first matching range names the class (metadata before link-local). */
const IPV4_RANGES: ReadonlyArray<readonly [Cidr, AddressClass]> = [
  [cidr('169.254.169.254/32'), 'metadata'], // AWS, GCP, Azure, OpenStack instance metadata
  [cidr('169.254.170.2/32'), 'metadata'], // AWS ECS task metadata
  [cidr('100.100.100.200/32'), 'metadata'], // Alibaba Cloud metadata
  [cidr('168.63.129.16/32'), 'metadata'], // Azure WireServer (a public-range address)
  [cidr('0.0.0.0/8'), 'unspecified'],
  [cidr('10.0.0.0/8'), 'private'],
  [cidr('100.64.0.0/10'), 'carrier-grade-nat'],
  [cidr('127.0.0.0/8'), 'loopback'],
  [cidr('169.254.0.0/16'), 'link-local'],
  [cidr('172.16.0.0/12'), 'private'],
  [cidr('192.0.0.0/24'), 'reserved'], // IETF protocol assignments
  [cidr('192.0.2.0/24'), 'reserved'], // documentation
  [cidr('192.88.99.0/24'), 'reserved'], // 6to4 relay anycast
  [cidr('192.168.0.0/16'), 'private'],
  [cidr('198.18.0.0/15'), 'reserved'], // benchmarking
  [cidr('198.51.100.0/24'), 'reserved'], // documentation
  [cidr('203.0.113.0/24'), 'reserved'], // documentation
  [cidr('224.0.0.0/4'), 'multicast'],
  [cidr('255.255.255.255/32'), 'broadcast'],
  [cidr('240.0.0.0/4'), 'reserved'],
];

const IPV6_RANGES: ReadonlyArray<readonly [Cidr, AddressClass]> = [
  [cidr('fd00:ec2::254/128'), 'metadata'], // AWS instance metadata over IPv6
  [cidr('::/128'), 'unspecified'],
  [cidr('::1/128'), 'loopback'],
  [cidr('64:ff9b::/96'), 'public'], // NAT64: classified by the IPv4 address it carries
  [cidr('::/96'), 'reserved'], // IPv4-compatible (deprecated)
  [cidr('::/8'), 'reserved'],
  [cidr('64:ff9b:1::/48'), 'private'], // local-use NAT64
  [cidr('100::/64'), 'reserved'], // discard-only
  [cidr('2001::/23'), 'reserved'], // IETF protocol assignments, Teredo included
  [cidr('2001:db8::/32'), 'reserved'], // documentation
  [cidr('fc00::/7'), 'private'], // unique local
  [cidr('fe80::/10'), 'link-local'],
  [cidr('fec0::/10'), 'private'], // site-local (deprecated)
  [cidr('ff00::/8'), 'multicast'],
];

const NAT64 = cidr('64:ff9b::/96');
const SIX_TO_FOUR = cidr('2002::/16');
const TEREDO = cidr('2001::/32');

/**
 * IPv4 addresses an IPv6 address carries and that a gateway may deliver to: NAT64
 * (`64:ff9b::a.b.c.d`), 6to4 (`2002:aabb:ccdd::`), Teredo (the client address, inverted),
 * ISATAP (`...:5efe:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`). IPv4-mapped addresses are
 * already IPv4 after parsing.
 */
export function embeddedIpv4(address: IpAddress): IpAddress[] {
  if (address.family !== 6) return [];
  const b = address.bytes;
  const out: IpAddress[] = [];
  const tail = b.slice(12, 16);
  if (cidrContains(NAT64, address)) out.push(ipv4FromBytes(tail));
  if (cidrContains(SIX_TO_FOUR, address)) out.push(ipv4FromBytes(b.slice(2, 6)));
  if (cidrContains(TEREDO, address)) out.push(ipv4FromBytes(tail.map((x) => x ^ 0xff)));
  if ((b[8] === 0x00 || b[8] === 0x02) && b[9] === 0x00 && b[10] === 0x5e && b[11] === 0xfe)
    out.push(ipv4FromBytes(tail));
  if (b.slice(0, 12).every((x) => x === 0)) out.push(ipv4FromBytes(tail));
  return out;
}

function classifyOne(address: IpAddress): AddressClass {
  const table = address.family === 4 ? IPV4_RANGES : IPV6_RANGES;
  for (const [range, cls] of table) if (cidrContains(range, address)) return cls;
  return 'public';
}

/**
 * Classifies a destination address: its own range first, then any IPv4 address it embeds, then
 * whether it is one of this host's own interface addresses (`localAddresses`, canonical text).
 */
export function classifyAddress(
  address: IpAddress,
  localAddresses: ReadonlySet<string> = new Set(),
): AddressClass {
  const own = classifyOne(address);
  if (own !== 'public') return own;
  for (const inner of embeddedIpv4(address)) {
    const cls = classifyOne(inner);
    if (cls !== 'public') return cls;
    if (localAddresses.has(inner.text)) return 'local-interface';
  }
  if (localAddresses.has(address.text)) return 'local-interface';
  return 'public';
}
