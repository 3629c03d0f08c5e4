import { randomBytes } from 'node:crypto';
import type { WebhookEventType } from '@workcell/protocol';
import type { StateStore } from '../state/state-store.js';
import type { Clock } from '../time/clock.js';
import type { WebhookEndpointStore } from './endpoint-store.js';

/** The operator's endpoint (`WORKCELL_WEBHOOK_URL`): every event of every tenant. */
export interface OperatorEndpoint {
  url: string;
  secret: string;
}

/** The endpoint id of the operator's endpoint in outbox entries. */
export const OPERATOR_ENDPOINT_ID = 'operator';

/** A delivery id: `msg_` + 24 random letters and digits. */
export function newDeliveryId(): string {
  return `msg_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
}

/** Where the events of runs and workspaces go out as webhooks. */
export interface WebhookEvents {
  /**
   * Puts one delivery per subscribed endpoint into the outbox (durable once it answers);
   * `data` gains the tenant.
   */
  publish(
    tenant: string,
    type: WebhookEventType,
    data: { workspaceId: string } & Record<string, unknown>,
  ): Promise<void>;
}

/**
 * Turns an event into outbox entries: one for each of the tenant's endpoints subscribed to its
 * type, and one for the operator's endpoint when there is one. The body is fixed here, so every
 * attempt sends the same bytes under the same `webhook-id`.
 */
export class WebhookPublisher implements WebhookEvents {
  constructor(
    private readonly deps: {
      endpoints: WebhookEndpointStore;
      state: StateStore;
      clock: Clock;
      operator: OperatorEndpoint | null;
      /** Called once entries are in the outbox, so delivery starts without waiting for a poll. */
      onEnqueued?: () => void;
    },
  ) {}

  async publish(
    tenant: string,
    type: WebhookEventType,
    data: { workspaceId: string } & Record<string, unknown>,
  ): Promise<void> {
    const { endpoints, state, clock, operator } = this.deps;
    const targets = (await endpoints.list(tenant))
      .filter((e) => e.events.includes(type))
      .map((e) => e.id);
    if (operator) targets.push(OPERATOR_ENDPOINT_ID);
    if (targets.length === 0) return;
    const now = clock.now();
    const body = JSON.stringify({
      type,
      timestamp: new Date(now).toISOString(),
      data: { tenant, ...data },
    });
    for (const endpointId of targets) {
      await state.enqueueDelivery(
        { id: newDeliveryId(), tenant, endpointId, body, attempts: 0, createdAt: now },
        now,
      );
    }
    this.deps.onEnqueued?.();
  }
}
