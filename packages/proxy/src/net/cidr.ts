import { formatIpv6, parseIpAddress, type IpAddress } from './ip.js';

/** An address range: `10.0.0.0/8`, `fd00::/8`; a bare address is a /32 or /128. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefix: number;
  readonly text: string;
}

/** Parses one CIDR; null when malformed. Host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`). */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addressText = slash >= 0 ? text.slice(0, slash) : text;
  const address = parseIpAddress(addressText);
  if (!address) return null;
  // A mapped IPv6 range (`::ffff:127.0.0.0/104`) is the IPv4 range it maps.
  const mapped = address.family === 4 && addressText.includes(':');
  const writtenBits = mapped ? 128 : address.bytes.length * 8;
  let prefix = writtenBits;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(prefixText)) return null;
    prefix = Number(prefixText);
    if (prefix > writtenBits) return null;
  }
  if (mapped) {
    if (prefix < 96) return null;
    prefix -= 96;
  }
  const bytes = maskBytes(address.bytes, prefix);
  const network = address.family === 4 ? Array.from(bytes).join('.') : formatIpv6(bytes);
  return { family: address.family, bytes, prefix, text: `${network}/${prefix}` };
}

function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += 1) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = (bytes[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** True when `address` lies inside `cidr` (same family only). */
export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  if (cidr.family !== address.family) return false;
  const full = Math.floor(cidr.prefix / 8);
  for (let i = 0; i < full; i += 1) if (cidr.bytes[i] !== address.bytes[i]) return false;
  const rest = cidr.prefix % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((address.bytes[full] ?? 0) & mask) === (cidr.bytes[full] ?? 0);
}

/** Builds a table entry from text known to be valid. */
export function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`invalid built-in CIDR ${text}`);
  return parsed;
}
