import type { Logger } from 'pino';
import { MemoryStateStore } from './memory-store.js';
import { RedisStateStore } from './redis-store.js';
import { parseRedisUrl } from './redis-url.js';
import type { StateStore } from './state-store.js';

export { CONTAINER_STATES } from './state-store.js';
export type {
  BufferedEvent,
  ContainerRecord,
  ContainerState,
  OutboxEntry,
  StateStore,
  TicketGrant,
  ApprovalRecord,
  ApprovalSettlement,
  StoredApproval,
} from './state-store.js';
export { MemoryStateStore, type MemoryStateStoreOptions } from './memory-store.js';
export { RedisStateStore, type RedisStateStoreOptions } from './redis-store.js';
export { DEFAULT_KEY_PREFIX, stateKeys, type StateKeys } from './keys.js';
export { connectRedis, type RedisClient } from './redis-client.js';
export { parseRedisUrl, withoutPassword, type RedisTarget } from './redis-url.js';

export interface StateStoreConfig {
  /** Redis to share state across hosts; unset keeps state in this process. */
  redisUrl?: string;
  /** Prefix of every Redis key; default `workcell`. */
  keyPrefix?: string;
  logger: Logger;
}

/** Builds the configured StateStore: Redis when a URL is given, in-process memory otherwise. */
export function createStateStore(config: StateStoreConfig): StateStore {
  if (!config.redisUrl) {
    config.logger.info({ component: 'state' }, 'state store: in-process memory');
    return new MemoryStateStore();
  }
  config.logger.info(
    { component: 'state', cluster: parseRedisUrl(config.redisUrl).kind === 'cluster' },
    'state store: Redis',
  );
  return new RedisStateStore({
    url: config.redisUrl,
    logger: config.logger,
    ...(config.keyPrefix === undefined ? {} : { keyPrefix: config.keyPrefix }),
  });
}
