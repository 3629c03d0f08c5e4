import { randomUUID } from 'node:crypto';
import type { IpAddress } from '@workcell/proxy';
import type { Logger } from 'pino';
import type { OutboxEntry, StateStore } from '../state/state-store.js';
import type { Clock, Timer } from '../time/clock.js';
import { attemptDelivery, type AttemptResult } from './deliver.js';
import type { WebhookEndpointStore } from './endpoint-store.js';
import { OPERATOR_ENDPOINT_ID, type OperatorEndpoint } from './publisher.js';
import { signDelivery } from './signature.js';
import {
  checkedAddresses,
  parseWebhookUrl,
  type AddressPolicy,
  type WebhookTarget,
} from './url-policy.js';

/** The dispatcher's tuning besides the configured timeout, attempts and base back-off. */
export const DISPATCH_DEFAULTS = {
  retryMaxMs: 3_600_000,
  pollIntervalMs: 1_000,
  batch: 16,
} as const;

/** What the dispatcher reports for metrics. */
export interface WebhookObserver {
  /** One HTTP attempt: `2xx`, `3xx`, `4xx`, `5xx`, `error` (no status) or `refused` (URL policy). */
  webhookAttempt(result: string): void;
  /** A delivery's fate after an attempt: `delivered`, `retried`, `failed` (gave up) or `dropped` (endpoint gone). */
  webhookDelivery(outcome: 'delivered' | 'retried' | 'failed' | 'dropped'): void;
}

export interface DispatcherSettings {
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  pollIntervalMs: number;
  /** Deliveries claimed (and attempted in parallel) per round. */
  batch: number;
}

/** The wait before attempt `attempts + 1`: base * 2^(attempts - 1), capped, plus up to 10%. */
export function retryDelayMs(
  attempts: number,
  settings: Pick<DispatcherSettings, 'retryBaseMs' | 'retryMaxMs'>,
  random: () => number = Math.random,
): number {
  const exponential = settings.retryBaseMs * 2 ** Math.max(0, attempts - 1);
  const capped = Math.min(exponential, settings.retryMaxMs);
  return Math.round(capped * (1 + 0.1 * random()));
}

function attemptLabel(result: AttemptResult): string {
  if (result.status === null) return 'error';
  return `${Math.floor(result.status / 100)}xx`;
}

/**
 * Sends the outbox's deliveries. Each round claims the due entries under a claim of its own
 * (a lease in the state store: another host sharing it never sends them at the same time, and
 * they come due again if this host dies), signs and POSTs each, then settles it: removed when
 * delivered or out of attempts, else put back due after an exponential backoff. An entry whose
 * endpoint is gone is dropped. The URL policy is checked again at every attempt, on the
 * addresses the connection then uses.
 */
export class WebhookDispatcher {
  private timer: Timer | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly deps: {
      state: StateStore;
      endpoints: WebhookEndpointStore;
      operator: OperatorEndpoint | null;
      policy: AddressPolicy;
      clock: Clock;
      logger: Logger;
      hostId: string;
      userAgent: string;
      observer?: WebhookObserver;
      settings: DispatcherSettings;
    },
  ) {}

  start(): void {
    if (this.timer) return;
    this.stopped = false;
    this.timer = this.deps.clock.every(this.deps.settings.pollIntervalMs, () => this.kick());
    this.kick();
  }

  /** Runs a round now (or right after the one in progress). */
  kick(): void {
    if (this.stopped || !this.timer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.rounds().finally(() => {
      this.running = null;
    });
  }

  /** Stops polling and waits for the round in progress (bounded by the delivery timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    await this.running;
  }

  /** Rounds until the outbox has nothing due (or a round claimed less than a batch). */
  private async rounds(): Promise<void> {
    do {
      this.again = false;
      let claimed: number;
      try {
        claimed = await this.round();
      } catch (err) {
        this.deps.logger.warn({ err }, 'webhook round failed; retrying at the next poll');
        return;
      }
      if (claimed >= this.deps.settings.batch) this.again = true;
    } while (this.again && !this.stopped);
  }

  private async round(): Promise<number> {
    const { state, clock, settings, hostId } = this.deps;
    const claim = `${hostId}:${randomUUID()}`;
    // The lease covers resolution, the attempt and settling it.
    const leaseMs = settings.timeoutMs * 2 + 10_000;
    const entries = await state.claimDeliveries(clock.now(), leaseMs, settings.batch, claim);
    await Promise.all(entries.map((entry) => this.deliver(entry, claim)));
    return entries.length;
  }

  private async endpointOf(entry: OutboxEntry): Promise<{ url: string; secret: string } | null> {
    if (entry.endpointId === OPERATOR_ENDPOINT_ID) return this.deps.operator;
    return this.deps.endpoints.find(entry.tenant, entry.endpointId);
  }

  private async deliver(entry: OutboxEntry, claim: string): Promise<void> {
    const { state, clock, settings, observer, logger } = this.deps;
    const log = logger.child({ deliveryId: entry.id, endpointId: entry.endpointId });
    try {
      const endpoint = await this.endpointOf(entry);
      if (!endpoint) {
        await state.completeDelivery(entry.id, claim);
        observer?.webhookDelivery('dropped');
        log.info('webhook endpoint gone; delivery dropped');
        return;
      }
      const result = await this.attempt(entry, endpoint);
      const attempts = entry.attempts + 1;
      if (result.ok) {
        await state.completeDelivery(entry.id, claim);
        observer?.webhookDelivery('delivered');
        log.debug({ attempts, status: result.status }, 'webhook delivered');
      } else if (attempts >= settings.maxAttempts) {
        await state.completeDelivery(entry.id, claim);
        observer?.webhookDelivery('failed');
        log.warn({ attempts, status: result.status, error: result.error }, 'webhook given up');
      } else {
        const delay = retryDelayMs(attempts, settings);
        await state.retryDelivery({ ...entry, attempts }, claim, clock.now() + delay);
        observer?.webhookDelivery('retried');
        log.info(
          { attempts, status: result.status, error: result.error, retryInMs: delay },
          'webhook attempt failed; retrying',
        );
      }
    } catch (err) {
      // The claim runs out and the entry comes due again.
      log.warn({ err }, 'webhook delivery could not be settled');
    }
  }

  private async attempt(
    entry: OutboxEntry,
    endpoint: { url: string; secret: string },
  ): Promise<AttemptResult> {
    const { clock, settings, policy, observer, userAgent } = this.deps;
    let target: WebhookTarget;
    let addresses: IpAddress[];
    try {
      target = parseWebhookUrl(endpoint.url);
      addresses = await checkedAddresses(target, policy);
    } catch (err) {
      observer?.webhookAttempt('refused');
      return { ok: false, status: null, error: (err as Error).message };
    }
    const timestamp = Math.floor(clock.now() / 1000);
    const result = await attemptDelivery({
      target,
      addresses,
      body: entry.body,
      timeoutMs: settings.timeoutMs,
      headers: {
        'user-agent': userAgent,
        'webhook-id': entry.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signDelivery(endpoint.secret, entry.id, timestamp, entry.body),
      },
    });
    observer?.webhookAttempt(attemptLabel(result));
    return result;
  }
}
