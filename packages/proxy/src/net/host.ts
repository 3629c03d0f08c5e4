import { domainToASCII } from 'node:url';
import { decodePunycode } from './punycode.js';
import { WorkcellError } from '@workcell/protocol';
import {
  endsInNumber,
  formatHostForAuthority,
  parseIpv6,
  parseLooseIpv4,
  type IpAddress,
} from './ip.js';

/**
 * A destination host in its one canonical form: lower-case, without a trailing dot, IP literals
 * in canonical text. Policy decisions, resolution and the dial all use `value`.
 */
export type CanonicalHost =
  | { readonly kind: 'name'; readonly value: string; readonly address: null }
  | { readonly kind: 'ip'; readonly value: string; readonly address: IpAddress };

/** A request target, authority or host the proxy refuses to interpret; answered with 400. */
export class TargetRefusal extends WorkcellError {
  constructor(message: string) {
    super('bad_request', message, { reason: 'invalid-target' });
    this.name = 'TargetRefusal';
  }
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Whether every `xn--` label of `host` is Punycode for a non-ASCII label that IDNA writes back
 * as exactly that label (so no two spellings name one host).
 */
function validPunycode(host: string): boolean {
  const unicode: string[] = [];
  for (const label of host.split('.')) {
    if (!label.startsWith('xn--')) {
      unicode.push(label);
      continue;
    }
    const decoded = decodePunycode(label.slice(4));
    if (decoded === null || decoded === '' || /^[\x00-\x7f]*$/.test(decoded)) return false;
    unicode.push(decoded);
  }
  return domainToASCII(unicode.join('.')) === host;
}

/**
 * Canonicalises a host as written in a request target, Host header or policy pattern.
 *
 * Refuses userinfo, control characters, spaces, percent-encoding, zone ids and non-ASCII
 * (write punycode); parses IP literals in every notation (`2852039166`, `0x7f.1`,
 * `[::ffff:169.254.169.254]`) into canonical text; strips one trailing dot. Throws TargetRefusal.
 */
export function canonicalHost(raw: string): CanonicalHost {
  if (raw === '') throw new TargetRefusal('empty host');
  // Printable ASCII only: no controls, spaces or non-ASCII; then the characters with a meaning in
  // an authority or URL are refused explicitly.
  if (!/^[\x21-\x7e]+$/.test(raw))
    throw new TargetRefusal('host has a control character, a space or non-ASCII (use punycode)');
  if (/[@%/\\?#]/.test(raw))
    throw new TargetRefusal('host has userinfo, percent-encoding, a zone id or a path character');
  const lower = raw.toLowerCase();
  if (lower.startsWith('[')) {
    if (!lower.endsWith(']')) throw new TargetRefusal('unterminated IPv6 literal');
    const address = parseIpv6(lower.slice(1, -1));
    if (!address) throw new TargetRefusal('invalid IPv6 literal');
    return { kind: 'ip', value: address.text, address };
  }
  const host = lower.endsWith('.') ? lower.slice(0, -1) : lower;
  if (host === '') throw new TargetRefusal('empty host');
  if (endsInNumber(host)) {
    const address = parseLooseIpv4(host);
    if (!address) throw new TargetRefusal('invalid IPv4 literal');
    return { kind: 'ip', value: address.text, address };
  }
  if (host.length > 253) throw new TargetRefusal('host name longer than 253 characters');
  for (const label of host.split('.')) {
    if (!LABEL.test(label)) throw new TargetRefusal('host name has an empty or invalid label');
  }
  if (host.split('.').some((label) => label.startsWith('xn--')) && !validPunycode(host)) {
    throw new TargetRefusal('host name has invalid punycode');
  }
  return { kind: 'name', value: host, address: null };
}

export interface Authority {
  readonly host: CanonicalHost;
  readonly port: number;
}

/** Parses a port written as decimal digits without a leading zero, 1-65535; null otherwise. */
export function parsePort(text: string): number | null {
  if (!/^[1-9][0-9]{0,4}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

/**
 * Parses `host[:port]` (`[v6][:port]` for IPv6) as in a CONNECT target, an absolute-form URL or
 * a Host header. `defaultPort` null makes the port mandatory. Throws TargetRefusal.
 */
export function parseAuthority(raw: string, defaultPort: number | null): Authority {
  if (raw.includes('@')) throw new TargetRefusal('userinfo is not allowed in the authority');
  let hostText: string;
  let portText: string | null;
  if (raw.startsWith('[')) {
    const close = raw.indexOf(']');
    if (close < 0) throw new TargetRefusal('unterminated IPv6 literal');
    hostText = raw.slice(0, close + 1);
    const rest = raw.slice(close + 1);
    if (rest === '') portText = null;
    else if (rest.startsWith(':')) portText = rest.slice(1);
    else throw new TargetRefusal('unexpected text after IPv6 literal');
  } else {
    const colon = raw.lastIndexOf(':');
    if (colon >= 0 && raw.indexOf(':') !== colon)
      throw new TargetRefusal('IPv6 literals must be in brackets');
    hostText = colon >= 0 ? raw.slice(0, colon) : raw;
    portText = colon >= 0 ? raw.slice(colon + 1) : null;
  }
  const host = canonicalHost(hostText);
  if (portText === null) {
    if (defaultPort === null) throw new TargetRefusal('the target needs a port');
    return { host, port: defaultPort };
  }
  const port = parsePort(portText);
  if (port === null) throw new TargetRefusal('invalid port');
  return { host, port };
}

/** `host:port` with IPv6 in brackets, for messages and audit records. */
export function formatAuthority(host: CanonicalHost | string, port: number): string {
  const value = typeof host === 'string' ? host : host.value;
  return `${formatHostForAuthority(value)}:${port}`;
}
