import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { cidrContains, parseCidr, type Cidr } from './cidr.js';
import { classifyAddress, embeddedIpv4, type AddressClass } from './classify.js';
import type { CanonicalHost } from './host.js';
import { parseIpAddress, type IpAddress } from './ip.js';

/** Resolves a name to address texts. Injectable; the default is `dns.lookup` with `all: true`. */
export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) => {
  const answers = await lookup(host, { all: true, verbatim: true });
  return answers.map((a) => a.address);
};

/** This host's own interface addresses (every family), as address texts. */
export function systemLocalAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((info) => info.address.replace(/%.*$/, ''));
}

/** Interface names of container bridges (Docker, libvirt, CNI) on this host. */
const BRIDGE_INTERFACE = /^(docker\d+|br-[0-9a-f]+|virbr\d+|cni\d+)$/;

/** The networks of this host's container bridges (`docker0`, compose's `br-*`, ...). */
export function systemBridgeNetworks(): Cidr[] {
  return Object.entries(networkInterfaces())
    .filter(([name]) => BRIDGE_INTERFACE.test(name))
    .flatMap(([, list]) => list ?? [])
    .map((info) => (info.cidr === null ? null : parseCidr(info.cidr.replace(/%[^/]*/, ''))))
    .filter((c): c is Cidr => c !== null);
}

export type AddressCheck =
  | { readonly ok: true; readonly addresses: readonly IpAddress[] }
  | {
      readonly ok: false;
      readonly reason: 'private-address' | 'resolve-failed';
      readonly message: string;
      /** The address that failed the check, for the audit record only (never a client body). */
      readonly address: string | null;
    };

export interface ResolveOptions {
  readonly resolve: Resolver;
  readonly localAddresses: () => readonly string[];
  /** Container bridge networks of this host; default `systemBridgeNetworks()`. */
  readonly bridgeNetworks: () => readonly Cidr[];
  readonly timeoutMs: number;
}

function isUnspecified(address: IpAddress): boolean {
  return classifyAddress(address) === 'unspecified';
}

function insideAllowPrivate(allowPrivate: readonly Cidr[], address: IpAddress): boolean {
  const covered = (a: IpAddress): boolean => allowPrivate.some((range) => cidrContains(range, a));
  if (covered(address)) return true;
  const inner = embeddedIpv4(address);
  return inner.length > 0 && inner.every(covered);
}

/** Whether the policy names exactly this address (a /32 or /128 entry), or every IPv4 it embeds. */
function namedExactly(allowPrivate: readonly Cidr[], address: IpAddress): boolean {
  const named = (a: IpAddress): boolean =>
    allowPrivate.some((range) => range.prefix === range.bytes.length * 8 && cidrContains(range, a));
  if (named(address)) return true;
  const inner = embeddedIpv4(address);
  return inner.length > 0 && inner.every(named);
}

/**
 * Destinations no private range unlocks, only naming the exact address: cloud metadata
 * services, this host's own interface addresses and its container bridge networks.
 */
function needsExactName(
  address: IpAddress,
  cls: AddressClass,
  local: ReadonlySet<string>,
  bridges: readonly Cidr[],
): boolean {
  if (cls === 'metadata' || cls === 'local-interface') return true;
  return [address, ...embeddedIpv4(address)].some(
    (a) =>
      local.has(a.text) ||
      classifyAddress(a) === 'metadata' ||
      bridges.some((range) => cidrContains(range, a)),
  );
}

function article(cls: AddressClass): string {
  return /^[aeiou]/.test(cls) ? 'an' : 'a';
}

/** `promise`, or a rejection once `ms` have passed (a DNS answer that never comes). */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('resolution timed out')), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves an allowed host once and checks every address it resolves to: refused when any is
 * loopback, unspecified, link-local, private, carrier-grade NAT, multicast, broadcast, reserved,
 * a metadata address or one of this host's interface addresses, unless inside `allowPrivate`
 * (the policy's private ranges). The unspecified address (`0.0.0.0/8`, `::`) is refused whatever
 * the ranges say: a connection to it reaches this host's own loopback services. An IP literal is checked as is. No answer fails closed. The caller dials
 * exactly the returned addresses.
 */
export async function resolveChecked(
  host: CanonicalHost,
  ranges: { readonly allowPrivate: readonly Cidr[] },
  options: ResolveOptions,
): Promise<AddressCheck> {
  let addresses: IpAddress[];
  if (host.kind === 'ip') {
    addresses = [host.address];
  } else {
    let answers: string[];
    try {
      answers = await withTimeout(options.resolve(host.value), options.timeoutMs);
    } catch {
      return {
        ok: false,
        reason: 'resolve-failed',
        message: `${host.value} did not resolve (fails closed)`,
        address: null,
      };
    }
    const parsed = answers.map((text) => parseIpAddress(text.replace(/%.*$/, '')));
    if (parsed.length === 0 || parsed.some((a) => a === null)) {
      return {
        ok: false,
        reason: 'resolve-failed',
        message: `${host.value} has no usable address (fails closed)`,
        address: null,
      };
    }
    addresses = parsed.filter((a): a is IpAddress => a !== null);
  }
  const local = new Set(
    options
      .localAddresses()
      .map((text) => parseIpAddress(text.replace(/%.*$/, ''))?.text)
      .filter((text): text is string => text !== undefined),
  );
  const bridges = options.bridgeNetworks();
  const { allowPrivate } = ranges;
  for (const address of addresses) {
    const cls = classifyAddress(address, local);
    if (cls === 'unspecified' || embeddedIpv4(address).some(isUnspecified)) {
      const subject = host.kind === 'ip' ? `${host.value} is` : `${host.value} resolves to`;
      return {
        ok: false,
        reason: 'private-address',
        message: `${subject} the unspecified address, which is never a destination`,
        address: address.text,
      };
    }
    if (needsExactName(address, cls, local, bridges)) {
      if (namedExactly(allowPrivate, address)) continue;
    } else if (cls === 'public' || insideAllowPrivate(allowPrivate, address)) continue;
    const subject = host.kind === 'ip' ? `${host.value} is` : `${host.value} resolves to`;
    return {
      ok: false,
      reason: 'private-address',
      message: `${subject} ${article(cls)} ${cls === 'public' ? 'host-network' : cls} address, refused unless ${needsExactName(address, cls, local, bridges) ? 'named exactly in' : 'inside'} WORKCELL_EGRESS_ALLOW_PRIVATE`,
      address: address.text,
    };
  }
  return { ok: true, addresses };
}
