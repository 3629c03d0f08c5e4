import { Cluster, Redis } from 'ioredis';
import { parseRedisUrl } from './redis-url.js';

/** One Redis server or a Redis Cluster: the commands the state store uses are the same. */
export type RedisClient = Redis | Cluster;

/** Reconnect delays grow 50, 100, 200 ... and stay at 1 s: a restarted Redis is found fast. */
const MAX_RECONNECT_DELAY_MS = 1_000;

const reconnectDelay = (attempt: number): number =>
  Math.min(50 * 2 ** (attempt - 1), MAX_RECONNECT_DELAY_MS);

/**
 * How long a command waits for its reply: a Redis that holds its connections open but does not
 * answer (stopped, overloaded, partitioned) fails calls after this instead of holding them.
 */
export const COMMAND_TIMEOUT_MS = 5_000;

/**
 * Connects to the Redis of `url` (see `parseRedisUrl`): a `Redis` for one server, an ioredis
 * `Cluster` for `redis+cluster://` seed nodes. Both fail a call made while Redis is down after
 * a few reconnect attempts instead of queueing it forever, fail a call Redis does not answer
 * within `COMMAND_TIMEOUT_MS`, and never send a command again on reconnect (a compare-and-set
 * whose reply was lost must not run twice). A timed-out command may still run once Redis
 * answers again: callers that retry one use writes that are safe to repeat.
 */
export function connectRedis(url: string): RedisClient {
  const target = parseRedisUrl(url);
  const common = {
    connectTimeout: 3_000,
    commandTimeout: COMMAND_TIMEOUT_MS,
    autoResendUnfulfilledCommands: false,
  };
  if (target.kind === 'single') {
    return new Redis(target.url, {
      ...common,
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      enableAutoPipelining: true,
      retryStrategy: reconnectDelay,
    });
  }
  return new Cluster(target.nodes, {
    clusterRetryStrategy: reconnectDelay,
    enableOfflineQueue: true,
    // Commands issued together go out as one pipeline per node.
    enableAutoPipelining: true,
    // Redirections (MOVED/ASK) and retries while a failover promotes a replica.
    maxRedirections: 16,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 200,
    redisOptions: {
      ...common,
      maxRetriesPerRequest: 2,
      ...(target.username === undefined ? {} : { username: target.username }),
      ...(target.password === undefined ? {} : { password: target.password }),
      ...(target.tls ? { tls: {} } : {}),
    },
  });
}
