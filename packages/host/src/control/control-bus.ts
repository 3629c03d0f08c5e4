import type { Logger } from 'pino';
import { stateKeys } from '../state/keys.js';
import { connectRedis, type RedisClient } from '../state/redis-client.js';
import { controlMessage, type ControlMessage, type ControlRequest } from './messages.js';

export type ControlHandler = (message: ControlMessage) => void | Promise<void>;

/**
 * Carries control messages between the hosts that share a StateStore. Delivery is at most
 * once and takes one Redis round trip; a host that is down misses what was sent meanwhile,
 * which is safe because everything a message acts on also ends without it (a run's lease
 * expires, GC removes a container nobody uses, a cached egress policy is re-read when stale).
 */
export interface ControlBus {
  /** Sends to every host, this one included. */
  publish(message: ControlRequest): Promise<void>;
  /** Calls `handler` for every message; answers a function that unsubscribes. */
  subscribe(handler: ControlHandler): () => void;
  /** Resolves once messages published from now on reach this host's handlers. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** Dispatches to handlers, logging (never throwing) a handler's failure. */
class Handlers {
  private readonly all = new Set<ControlHandler>();

  constructor(private readonly logger: Logger) {}

  add(handler: ControlHandler): () => void {
    this.all.add(handler);
    return () => this.all.delete(handler);
  }

  deliver(message: ControlMessage): void {
    for (const handler of this.all) {
      Promise.resolve()
        .then(() => handler(message))
        .catch((err: unknown) =>
          this.logger.error({ message, err: String(err) }, 'control message handler failed'),
        );
    }
  }
}

/** One host alone (in-process state): every message is for this host. */
export class LocalControlBus implements ControlBus {
  private readonly handlers: Handlers;

  constructor(
    private readonly hostId: string,
    logger: Logger,
  ) {
    this.handlers = new Handlers(logger);
  }

  async publish(message: ControlRequest): Promise<void> {
    this.handlers.deliver({ ...message, from: this.hostId } as ControlMessage);
  }

  subscribe(handler: ControlHandler): () => void {
    return this.handlers.add(handler);
  }

  async ready(): Promise<void> {}

  async close(): Promise<void> {}
}

/**
 * Redis pub/sub on `<prefix>:control` (on a cluster, PUBLISH reaches subscribers on every
 * node). The subscription has a connection of its own, as Redis requires, and is made again
 * whenever that connection comes back.
 */
export class RedisControlBus implements ControlBus {
  private readonly handlers: Handlers;
  private readonly publisher: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly channel: string;
  private readonly subscribed: Promise<void>;

  constructor(
    private readonly options: { url: string; hostId: string; keyPrefix?: string; logger: Logger },
  ) {
    const logger = options.logger.child({ component: 'control-bus' });
    this.handlers = new Handlers(logger);
    this.channel = stateKeys(options.keyPrefix).controlChannel;
    this.publisher = connectRedis(options.url);
    this.subscriber = connectRedis(options.url);
    for (const client of [this.publisher, this.subscriber]) {
      // Connection errors surface as failed publishes; the client reconnects by itself.
      client.on('error', () => undefined);
    }
    this.subscriber.on('message', (channel: string, raw: string) => {
      if (channel !== this.channel) return;
      const parsed = parse(raw);
      if (parsed) this.handlers.deliver(parsed);
      else logger.warn({ raw: raw.slice(0, 200) }, 'malformed control message ignored');
    });
    this.subscribed = this.subscriber.subscribe(this.channel).then(() => undefined);
    this.subscribed.catch((err: unknown) =>
      logger.error({ err: String(err) }, 'control channel subscription failed'),
    );
  }

  async publish(message: ControlRequest): Promise<void> {
    await this.publisher.publish(
      this.channel,
      JSON.stringify({ ...message, from: this.options.hostId }),
    );
  }

  subscribe(handler: ControlHandler): () => void {
    return this.handlers.add(handler);
  }

  ready(): Promise<void> {
    return this.subscribed;
  }

  async close(): Promise<void> {
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }
}

function parse(raw: string): ControlMessage | null {
  try {
    const result = controlMessage.safeParse(JSON.parse(raw));
    return result.success ? result.data : null;
  } catch {
    return null;
  }
}
