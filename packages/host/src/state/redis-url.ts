/**
 * Where Redis is, from `WORKCELL_REDIS_URL`:
 *
 * - `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS): one Redis server;
 * - `redis+cluster://[user:password@]host:port,host:port,...` (or `rediss+cluster://`): a Redis
 *   Cluster, given by one or more seed nodes; the client finds the rest of the cluster from them.
 */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | {
      kind: 'cluster';
      nodes: { host: string; port: number }[];
      username?: string;
      password?: string;
      tls: boolean;
    };

const CLUSTER_SCHEME = /^(rediss?)\+cluster:\/\/(.*)$/;

/** Parses a Redis URL, throwing an Error that says what is wrong with it. */
export function parseRedisUrl(raw: string): RedisTarget {
  const cluster = CLUSTER_SCHEME.exec(raw);
  if (!cluster) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new Error('must be a URL: redis://host:port or redis+cluster://host:port,host:port');
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new Error(
        `scheme ${url.protocol} is not redis:, rediss:, redis+cluster: or rediss+cluster:`,
      );
    }
    if (!url.hostname) throw new Error('names no host');
    return { kind: 'single', url: raw };
  }
  const tls = cluster[1] === 'rediss';
  let rest = cluster[2] as string;
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const credentials = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = credentials.indexOf(':');
    const user = decodeURIComponent(colon >= 0 ? credentials.slice(0, colon) : credentials);
    const pass = colon >= 0 ? decodeURIComponent(credentials.slice(colon + 1)) : '';
    if (user) username = user;
    if (pass) password = pass;
  }
  rest = rest.replace(/\/+$/, '');
  if (rest.includes('/')) throw new Error('a cluster URL takes no database number or path');
  const nodes = rest.split(',').map((entry) => {
    const node = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(entry.trim());
    const port = node ? Number(node[2]) : NaN;
    if (!node || !node[1] || port < 1 || port > 65535) {
      throw new Error(`cluster node ${JSON.stringify(entry)} is not host:port`);
    }
    return { host: node[1], port };
  });
  return {
    kind: 'cluster',
    nodes,
    tls,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  };
}

/** The URL without its password, for messages and logs. */
export function withoutPassword(url: string): string {
  const cluster = CLUSTER_SCHEME.exec(url);
  if (cluster) {
    const rest = cluster[2] as string;
    const at = rest.lastIndexOf('@');
    if (at < 0) return url;
    const credentials = rest.slice(0, at);
    const colon = credentials.indexOf(':');
    const user = colon >= 0 ? credentials.slice(0, colon) : '';
    return `${cluster[1] as string}+cluster://${user}:***@${rest.slice(at + 1)}`;
  }
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'redis (unparseable URL)';
  }
}
