/**
 * Header handling shared by every route: framing checks on the raw header list, and removal of
 * hop-by-hop and proxy headers before a message goes on.
 */

/** Headers that describe one connection, never forwarded (RFC 9110 section 7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'http2-settings',
]);

/** Why a request's headers are refused; the caller answers 400. */
export class HeaderRefusal extends Error {
  override readonly name = 'HeaderRefusal';
}

export interface RequestFraming {
  /** The single Host header value, or null when absent. */
  readonly host: string | null;
  readonly chunked: boolean;
}

/**
 * Checks the raw header list for shapes that let two parsers disagree: more than one Host,
 * Content-Length or Transfer-Encoding header, or a Transfer-Encoding other than `chunked`.
 * (The HTTP parser already refuses TE with CL, obs-fold and whitespace before a colon.)
 */
export function checkFraming(rawHeaders: readonly string[]): RequestFraming {
  let host: string | null = null;
  let hostCount = 0;
  let lengthCount = 0;
  let encodingCount = 0;
  let chunked = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    const value = rawHeaders[i + 1] ?? '';
    if (name === 'host') {
      hostCount += 1;
      host = value;
    } else if (name === 'content-length') {
      lengthCount += 1;
    } else if (name === 'transfer-encoding') {
      encodingCount += 1;
      if (value.trim().toLowerCase() !== 'chunked')
        throw new HeaderRefusal('only "Transfer-Encoding: chunked" is accepted');
      chunked = true;
    }
  }
  if (hostCount > 1) throw new HeaderRefusal('more than one Host header');
  if (lengthCount > 1) throw new HeaderRefusal('more than one Content-Length header');
  if (encodingCount > 1) throw new HeaderRefusal('more than one Transfer-Encoding header');
  if (lengthCount > 0 && encodingCount > 0)
    throw new HeaderRefusal('both Content-Length and Transfer-Encoding');
  return { host, chunked };
}

/** Lower-case names listed in Connection headers: per-connection headers to drop as well. */
function connectionTokens(rawHeaders: readonly string[]): Set<string> {
  const tokens = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] ?? '').toLowerCase() !== 'connection') continue;
    for (const token of (rawHeaders[i + 1] ?? '').split(',')) {
      const t = token.trim().toLowerCase();
      if (t !== '') tokens.add(t);
    }
  }
  return tokens;
}

/**
 * The raw header list (`[name, value, ...]`, case and order kept) without hop-by-hop headers,
 * `Proxy-*` headers, headers named in Connection, and any header `drop` selects (lower-case name).
 */
export function forwardableHeaders(
  rawHeaders: readonly string[],
  drop: (name: string) => boolean = () => false,
): string[] {
  const listed = connectionTokens(rawHeaders);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower.startsWith('proxy-') || listed.has(lower) || drop(lower))
      continue;
    out.push(name, rawHeaders[i + 1] ?? '');
  }
  return out;
}

/** The raw header list as a lower-case-keyed object, duplicates joined with ", " (for signing). */
export function headerObject(rawHeaders: readonly string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    const value = rawHeaders[i + 1] ?? '';
    out[name] = name in out ? `${out[name]}, ${value}` : value;
  }
  return out;
}
