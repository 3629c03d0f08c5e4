import type { CreatedWebhook, Webhook, WebhookEventType } from '@workcell/protocol';
import type { Clock } from '../time/clock.js';
import {
  newWebhookId,
  type WebhookEndpoint,
  type WebhookEndpointInfo,
  type WebhookEndpointStore,
} from './endpoint-store.js';
import { newSigningSecret } from './signature.js';
import { checkedAddresses, parseWebhookUrl, type AddressPolicy } from './url-policy.js';

function view(e: WebhookEndpointInfo): Webhook {
  return { id: e.id, url: e.url, events: e.events, createdAt: e.createdAt };
}

/**
 * What the webhooks API does: registers an endpoint once its URL passes the policy (the same
 * check every delivery makes again), lists and removes a tenant's endpoints. The signing
 * secret is answered once, at registration.
 */
export class WebhookRegistry {
  constructor(
    private readonly deps: {
      endpoints: WebhookEndpointStore;
      policy: AddressPolicy;
      clock: Clock;
    },
  ) {}

  async register(
    tenant: string,
    input: { url: string; events: readonly WebhookEventType[] },
  ): Promise<CreatedWebhook> {
    const target = parseWebhookUrl(input.url);
    await checkedAddresses(target, this.deps.policy);
    const endpoint: WebhookEndpoint = {
      id: newWebhookId(),
      tenant,
      url: target.url.href,
      events: [...new Set(input.events)],
      secret: newSigningSecret(),
      createdAt: new Date(this.deps.clock.now()).toISOString(),
    };
    await this.deps.endpoints.create(endpoint);
    return { ...view(endpoint), secret: endpoint.secret };
  }

  async list(tenant: string): Promise<Webhook[]> {
    return (await this.deps.endpoints.list(tenant)).map(view);
  }

  remove(tenant: string, id: string): Promise<void> {
    return this.deps.endpoints.remove(tenant, id);
  }
}
