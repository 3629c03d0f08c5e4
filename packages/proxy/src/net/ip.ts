/**
 * IP addresses as bytes, parsed once and printed in one canonical text form, so that every
 * notation of an address (decimal, octal, hex, short forms, IPv4-mapped IPv6) compares equal
 * and the policy decision and the dial use the same value.
 */

export interface IpAddress {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
  /** Canonical text: dotted decimal, or RFC 5952 IPv6 without brackets. */
  readonly text: string;
}

export function ipv4FromBytes(bytes: Uint8Array): IpAddress {
  return { family: 4, bytes, text: Array.from(bytes).join('.') };
}

function ipv4FromNumber(value: number): IpAddress {
  const bytes = new Uint8Array([
    (value >>> 24) & 0xff,
    (value >>> 16) & 0xff,
    (value >>> 8) & 0xff,
    value & 0xff,
  ]);
  return ipv4FromBytes(bytes);
}

/**
 * An IPv6 address from its 16 bytes. An IPv4-mapped address (`::ffff:a.b.c.d`) is the IPv4
 * address it maps: the kernel connects to the same destination either way.
 */
export function ipv6FromBytes(bytes: Uint8Array): IpAddress {
  if (isIpv4Mapped(bytes)) return ipv4FromBytes(bytes.slice(12));
  return { family: 6, bytes, text: formatIpv6(bytes) };
}

function isIpv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i += 1) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** RFC 5952 text of 16 bytes (no IPv4-mapped special case). */
export function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // RFC 5952: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}

const DECIMAL_OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

/** Strict dotted-quad IPv4 (what resolvers and CIDR lists use): four decimal octets, no leading zeros. */
export function parseStrictIpv4(text: string): IpAddress | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i += 1) {
    const part = parts[i] ?? '';
    if (!DECIMAL_OCTET.test(part)) return null;
    bytes[i] = Number(part);
  }
  return ipv4FromBytes(bytes);
}

/**
 * True when a host name's last label is a number, which makes the whole name an IPv4 address
 * for URL parsers and for inet_aton (the WHATWG URL "ends in a number" rule).
 */
export function endsInNumber(host: string): boolean {
  const labels = host.split('.');
  const last = labels[labels.length - 1] ?? '';
  if (last === '') return false;
  if (/^[0-9]+$/.test(last)) return true;
  return /^0x[0-9a-f]*$/.test(last);
}

function parseIpv4Number(part: string): number | null {
  if (part === '') return null;
  let digits = part;
  let radix = 10;
  if (digits.startsWith('0x')) {
    radix = 16;
    digits = digits.slice(2);
  } else if (digits.length > 1 && digits.startsWith('0')) {
    radix = 8;
    digits = digits.slice(1);
  }
  if (digits === '') return 0;
  const valid = radix === 16 ? /^[0-9a-f]+$/ : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!valid.test(digits)) return null;
  // Anything longer than 12 digits exceeds 2^32 in every radix; refusing it early keeps the
  // arithmetic exact.
  if (digits.length > 12) return Number.POSITIVE_INFINITY;
  return Number.parseInt(digits, radix);
}

/**
 * IPv4 in every notation inet_aton and URL parsers accept: one to four parts, each decimal,
 * octal (leading 0) or hex (0x); the last part fills the remaining bytes (`127.1`,
 * `2852039166`, `0xa9.0xfe.0xa9.0xfe`). Returns null when the text is not such an address.
 */
export function parseLooseIpv4(host: string): IpAddress | null {
  const parts = host.split('.');
  if (parts.length === 0 || parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    const n = parseIpv4Number(part);
    if (n === null) return null;
    numbers.push(n);
  }
  const last = numbers.pop() ?? 0;
  let value = 0;
  for (const [i, n] of numbers.entries()) {
    if (n > 255) return null;
    value += n * 256 ** (3 - i);
  }
  if (last >= 256 ** (4 - numbers.length)) return null;
  value += last;
  return ipv4FromNumber(value);
}

/** IPv6 text without brackets or zone id, with an optional dotted IPv4 tail. Null when invalid. */
export function parseIpv6(text: string): IpAddress | null {
  const bytes = parseIpv6Bytes(text.toLowerCase());
  return bytes ? ipv6FromBytes(bytes) : null;
}

function parseIpv6Bytes(text: string): Uint8Array | null {
  if (!/^[0-9a-f:.]+$/.test(text)) return null;
  const doubleColon = text.indexOf('::');
  if (doubleColon !== text.lastIndexOf('::')) return null;
  const [headText, tailText] =
    doubleColon >= 0 ? [text.slice(0, doubleColon), text.slice(doubleColon + 2)] : [text, null];
  const head = parseGroups(headText, tailText === null);
  const tail = tailText === null ? [] : parseGroups(tailText, true);
  if (!head || !tail) return null;
  const total = head.length + tail.length;
  if (tailText === null ? total !== 8 : total > 7) return null;
  const groups = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[i * 2] = g >> 8;
    bytes[i * 2 + 1] = g & 0xff;
  });
  return bytes;
}

/** Colon-separated hex groups; the last may be a dotted IPv4 (two groups) when `allowIpv4Tail`. */
function parseGroups(text: string, allowIpv4Tail: boolean): number[] | null {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (const [i, part] of parts.entries()) {
    if (part.includes('.')) {
      if (!allowIpv4Tail || i !== parts.length - 1) return null;
      const v4 = parseStrictIpv4(part);
      if (!v4) return null;
      groups.push(
        ((v4.bytes[0] ?? 0) << 8) | (v4.bytes[1] ?? 0),
        ((v4.bytes[2] ?? 0) << 8) | (v4.bytes[3] ?? 0),
      );
      continue;
    }
    if (!/^[0-9a-f]{1,4}$/.test(part)) return null;
    groups.push(Number.parseInt(part, 16));
  }
  return groups;
}

/** An address as resolvers print it (strict dotted quad or IPv6); null when it is neither. */
export function parseIpAddress(text: string): IpAddress | null {
  return parseStrictIpv4(text) ?? parseIpv6(text);
}

/** Brackets an IPv6 text for an authority (`[::1]`); IPv4 and names pass unchanged. */
export function formatHostForAuthority(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
