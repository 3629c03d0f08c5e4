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

/** Methods whose requests carry no body here: one that announces a body is refused. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE']);

/** Why a request's headers are refused; the caller answers 400, or 431 for `too-many-headers`. */
export class HeaderRefusal extends Error {
  override readonly name = 'HeaderRefusal';

  constructor(
    message: string,
    readonly reason: 'malformed-request' | 'too-many-headers' = 'malformed-request',
  ) {
    super(message);
  }
}

/** How a request's body is delimited: none, by Content-Length, or chunked. */
export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' };

export interface RequestFraming {
  /** The single Host header value, or null when absent. */
  readonly host: string | null;
  readonly body: BodyFraming;
}

/**
 * Refuses a header list at or past the cap (431): past it, the parser may have dropped headers
 * the framing check would need to see.
 */
export function checkHeaderCount(rawHeaders: readonly string[], maxHeaderCount: number): void {
  if (rawHeaders.length / 2 > maxHeaderCount)
    throw new HeaderRefusal(`more than ${maxHeaderCount} header lines`, 'too-many-headers');
}

/**
 * Checks the raw header list for shapes that let two parsers disagree: more than one Host,
 * Content-Length or Transfer-Encoding header, a Transfer-Encoding other than `chunked`, or a
 * body announced on a method that carries none. (The HTTP parser already refuses TE with CL,
 * obs-fold and whitespace before a colon.) Call `checkHeaderCount` first.
 */
export function checkFraming(rawHeaders: readonly string[], method: string): RequestFraming {
  let host: string | null = null;
  let length = 0;
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
      if (!/^[0-9]{1,15}$/.test(value.trim()))
        throw new HeaderRefusal('Content-Length is not a decimal number');
      length = Number(value.trim());
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
  const body: BodyFraming = chunked
    ? { kind: 'chunked' }
    : length > 0
      ? { kind: 'length', length }
      : { kind: 'none' };
  if (body.kind !== 'none' && BODYLESS_METHODS.has(method.toUpperCase()))
    throw new HeaderRefusal(`a ${method.toUpperCase()} request carries no body`);
  return { host, body };
}

/**
 * The framing header to send upstream for a body framed as `body`: exactly one of
 * Content-Length or `Transfer-Encoding: chunked`, or nothing for a method with no body.
 * Request header lists built by `forwardableRequestHeaders` carry neither.
 */
export function framingHeaders(method: string, body: BodyFraming): string[] {
  if (body.kind === 'chunked') return ['Transfer-Encoding', 'chunked'];
  if (body.kind === 'length') return ['Content-Length', String(body.length)];
  return BODYLESS_METHODS.has(method.toUpperCase()) ? [] : ['Content-Length', '0'];
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

/**
 * `forwardableHeaders` for a request going upstream: Content-Length goes too, since the proxy
 * states the framing itself (`framingHeaders`).
 */
export function forwardableRequestHeaders(
  rawHeaders: readonly string[],
  drop: (name: string) => boolean = () => false,
): string[] {
  return forwardableHeaders(rawHeaders, (name) => name === 'content-length' || drop(name));
}
