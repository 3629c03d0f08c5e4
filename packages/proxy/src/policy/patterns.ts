import { WorkcellError } from '@workcell/protocol';
import { canonicalHost, TargetRefusal, parsePort, type CanonicalHost } from '../net/host.js';
import { endsInNumber, formatHostForAuthority } from '../net/ip.js';

/**
 * One egress host pattern: an exact host (name or IP literal) or `*.domain` (strict subdomains,
 * not the apex), with an optional port. Without a port an allow pattern means 443 for CONNECT
 * and 80 for plain HTTP; a deny pattern without a port covers every port.
 */
export type EgressPattern =
  | {
      readonly kind: 'exact';
      readonly host: string;
      readonly port: number | null;
      readonly text: string;
    }
  | {
      readonly kind: 'wildcard';
      readonly domain: string;
      readonly port: number | null;
      readonly text: string;
    };

export type Transport = 'connect' | 'http';

export const DEFAULT_PORT: Record<Transport, number> = { connect: 443, http: 80 };

/**
 * Suffixes under which anyone can register names; `*.<suffix>` would open them all. Single-label
 * suffixes (`*.com`) are refused by the two-label rule already.
 */
const SHARED_SUFFIXES = new Set([
  'co.uk',
  'org.uk',
  'ac.uk',
  'gov.uk',
  'me.uk',
  'com.au',
  'net.au',
  'org.au',
  'co.nz',
  'co.jp',
  'ne.jp',
  'or.jp',
  'co.kr',
  'com.br',
  'com.cn',
  'com.mx',
  'co.in',
  'co.za',
  'com.tr',
  'com.sg',
  'com.hk',
  'com.tw',
  'co.il',
  'com.ar',
  'eu.org',
  'github.io',
  'gitlab.io',
  'herokuapp.com',
  'appspot.com',
  'blogspot.com',
  'amazonaws.com',
  'cloudfront.net',
  'azurewebsites.net',
  'vercel.app',
  'netlify.app',
  'pages.dev',
  'workers.dev',
  'web.app',
  'firebaseapp.com',
  'ngrok.io',
  'ngrok-free.app',
  'trycloudflare.com',
  'onrender.com',
  'fly.dev',
  'glitch.me',
  'repl.co',
  'now.sh',
  'surge.sh',
  'r2.dev',
  'blob.core.windows.net',
  'storage.googleapis.com',
]);

function refuse(variable: string, pattern: string, why: string): never {
  throw new WorkcellError(
    'validation_failed',
    `${variable}: pattern "${pattern}" is refused: ${why}`,
    {
      variable,
      pattern,
    },
  );
}

/** Splits `host[:port]` of a pattern; IPv6 must be bracketed. */
function splitPort(variable: string, pattern: string): { hostText: string; port: number | null } {
  if (pattern.startsWith('[')) {
    const close = pattern.indexOf(']');
    if (close < 0) refuse(variable, pattern, 'unterminated IPv6 literal');
    const rest = pattern.slice(close + 1);
    if (rest === '') return { hostText: pattern, port: null };
    if (!rest.startsWith(':')) refuse(variable, pattern, 'unexpected text after the IPv6 literal');
    const port = parsePort(rest.slice(1));
    if (port === null) refuse(variable, pattern, 'the port must be 1-65535');
    return { hostText: pattern.slice(0, close + 1), port };
  }
  const colon = pattern.lastIndexOf(':');
  if (colon < 0) return { hostText: pattern, port: null };
  if (pattern.indexOf(':') !== colon)
    refuse(variable, pattern, 'write IPv6 addresses in brackets: [2001:db8::1]:443');
  const port = parsePort(pattern.slice(colon + 1));
  if (port === null) refuse(variable, pattern, 'the port must be 1-65535');
  return { hostText: pattern.slice(0, colon), port };
}

function canonicalOrRefuse(variable: string, pattern: string, hostText: string): CanonicalHost {
  try {
    return canonicalHost(hostText);
  } catch (err) {
    if (err instanceof TargetRefusal) refuse(variable, pattern, err.message);
    throw err;
  }
}

/** Parses one pattern; throws a WorkcellError (`validation_failed`) naming `variable` and the pattern. */
export function parseEgressPattern(pattern: string, variable: string): EgressPattern {
  if (pattern === '') refuse(variable, pattern, 'empty pattern');
  if (
    pattern.includes('://') ||
    /^[a-z][a-z0-9+.-]*:\/\//i.test(pattern) ||
    /^https?:/i.test(pattern)
  ) {
    refuse(variable, pattern, 'a scheme is not allowed; write the host only');
  }
  if (/[/?#]/.test(pattern))
    refuse(variable, pattern, 'a path, query or fragment is not allowed; write the host only');
  if (pattern.includes('@')) refuse(variable, pattern, 'userinfo is not allowed');
  if (!/^[\x21-\x7e]+$/.test(pattern))
    refuse(
      variable,
      pattern,
      'spaces, control characters and non-ASCII are not allowed (write punycode: xn--...)',
    );
  const { hostText, port } = splitPort(variable, pattern);
  if (hostText.includes('*')) {
    if (hostText === '*' || hostText === '*.')
      refuse(variable, pattern, '"*" would allow every host');
    if (!hostText.startsWith('*.') || hostText.slice(2).includes('*')) {
      refuse(
        variable,
        pattern,
        'a wildcard is allowed only as the whole first label ("*.example.com")',
      );
    }
    const domain = canonicalOrRefuse(variable, pattern, hostText.slice(2));
    if (domain.kind === 'ip' || endsInNumber(domain.value))
      refuse(variable, pattern, 'a wildcard cannot cover an IP address');
    const labels = domain.value.split('.');
    if (labels.length < 2)
      refuse(
        variable,
        pattern,
        `"*.${domain.value}" is too broad: it covers a whole top-level domain`,
      );
    if (SHARED_SUFFIXES.has(domain.value)) {
      refuse(
        variable,
        pattern,
        `"*.${domain.value}" is too broad: anyone can register names under ${domain.value}`,
      );
    }
    return {
      kind: 'wildcard',
      domain: domain.value,
      port,
      text: formatPattern('wildcard', domain.value, port),
    };
  }
  const host = canonicalOrRefuse(variable, pattern, hostText);
  return { kind: 'exact', host: host.value, port, text: formatPattern('exact', host.value, port) };
}

function formatPattern(kind: EgressPattern['kind'], host: string, port: number | null): string {
  const hostText = kind === 'wildcard' ? `*.${host}` : formatHostForAuthority(host);
  return port === null ? hostText : `${hostText}:${port}`;
}

/**
 * Parses a comma-separated pattern list (`WORKCELL_EGRESS_ALLOW`, `WORKCELL_EGRESS_DENY`, or a
 * workspace's narrowed list). Throws a WorkcellError naming `variable` and the first bad pattern.
 */
export function parseEgressPatterns(list: string, variable: string): EgressPattern[] {
  return list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => parseEgressPattern(entry, variable));
}

/** True when `host` (canonical value) is one of the hosts the pattern names. */
export function hostMatches(pattern: EgressPattern, host: string): boolean {
  if (pattern.kind === 'exact') return pattern.host === host;
  return host.endsWith(`.${pattern.domain}`);
}

/** True when an allow pattern admits `host:port` over `transport`. */
export function allowMatches(
  pattern: EgressPattern,
  host: string,
  port: number,
  transport: Transport,
): boolean {
  return hostMatches(pattern, host) && port === (pattern.port ?? DEFAULT_PORT[transport]);
}

/** True when a deny pattern refuses `host:port`; a deny pattern without a port covers every port. */
export function denyMatches(pattern: EgressPattern, host: string, port: number): boolean {
  return hostMatches(pattern, host) && (pattern.port === null || pattern.port === port);
}

/**
 * True when every destination `inner` admits is admitted by `outer` (both allow patterns):
 * the same port rule, and a host set inside the outer one.
 */
export function patternWithin(inner: EgressPattern, outer: EgressPattern): boolean {
  if (inner.port !== outer.port) return false;
  if (outer.kind === 'exact') return inner.kind === 'exact' && inner.host === outer.host;
  if (inner.kind === 'exact') return hostMatches(outer, inner.host);
  return inner.domain === outer.domain || inner.domain.endsWith(`.${outer.domain}`);
}
