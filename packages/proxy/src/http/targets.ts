import { ROUTE_PREFIX } from '@workcell/protocol';
import { TargetRefusal } from '../net/host.js';

export type ModelRoute = 'anthropic' | 'bedrock';

/** An origin-form target on a model route: the route and the rest (path and query after the prefix). */
export interface RouteTarget {
  readonly route: ModelRoute;
  readonly rest: string;
}

/** Matches `/_workcell/anthropic[/...|?...]` and `/_workcell/bedrock[...]`; null otherwise. */
export function matchModelRoute(target: string): RouteTarget | null {
  for (const route of ['anthropic', 'bedrock'] as const) {
    const prefix = ROUTE_PREFIX[route];
    if (!target.startsWith(prefix)) continue;
    const rest = target.slice(prefix.length);
    if (rest === '' || rest.startsWith('/') || rest.startsWith('?')) return { route, rest };
  }
  return null;
}

export interface SplitTarget {
  readonly path: string;
  readonly query: string | null;
}

/** Splits `path?query` (no fragment allowed). */
export function splitPathQuery(rest: string): SplitTarget {
  if (rest.includes('#')) throw new TargetRefusal('a fragment is not allowed in a request target');
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, query: null } : { path: rest.slice(0, q), query: rest.slice(q + 1) };
}

/**
 * A sub-path safe to append to an upstream base path: absolute, no backslash, no encoded slash,
 * and no `.` or `..` segment in any spelling (so it cannot climb out of the upstream's base path).
 */
export function checkSubpath(path: string): void {
  if (path !== '' && !path.startsWith('/')) throw new TargetRefusal('the path must start with "/"');
  if (path.includes('\\')) throw new TargetRefusal('a backslash is not allowed in the path');
  for (const segment of path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw new TargetRefusal('the path has malformed percent-encoding');
    }
    if (decoded === '.' || decoded === '..')
      throw new TargetRefusal('dot segments are not allowed in the path');
    if (/[/\\]/.test(decoded))
      throw new TargetRefusal('an encoded slash is not allowed in the path');
  }
}

/** An upstream's base path without a trailing slash (`''` for `https://api.anthropic.com`). */
export function basePath(upstream: URL): string {
  return upstream.pathname.replace(/\/+$/, '');
}

/** An upstream URL's host name as a socket wants it: IPv6 without brackets. */
export function upstreamHostname(upstream: URL): string {
  return upstream.hostname.replace(/^\[(.*)\]$/, '$1');
}

export function upstreamPort(upstream: URL): number {
  if (upstream.port !== '') return Number(upstream.port);
  return upstream.protocol === 'https:' ? 443 : 80;
}

export interface AbsoluteTarget {
  readonly authority: string;
  readonly pathAndQuery: string;
}

/**
 * Splits an absolute-form target (`http://host[:port]/path?query`). Only `http` is accepted:
 * HTTPS goes through CONNECT, never through TLS the proxy originates. Throws TargetRefusal.
 */
export function parseAbsoluteTarget(target: string): AbsoluteTarget {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(target);
  if (!scheme) throw new TargetRefusal('the request target is not an absolute http:// URL');
  if ((scheme[1] ?? '').toLowerCase() !== 'http') {
    throw new TargetRefusal(
      `scheme "${scheme[1] ?? ''}" is not proxied as absolute-form; use CONNECT for https`,
    );
  }
  const after = target.slice(scheme[0].length);
  const end = after.search(/[/?#]/);
  const authority = end < 0 ? after : after.slice(0, end);
  let rest = end < 0 ? '/' : after.slice(end);
  if (rest.includes('#')) throw new TargetRefusal('a fragment is not allowed in a request target');
  if (rest.startsWith('?')) rest = `/${rest}`;
  if (authority === '') throw new TargetRefusal('the request target has no host');
  return { authority, pathAndQuery: rest };
}
