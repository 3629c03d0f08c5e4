import { randomBytes } from 'node:crypto';
import { WorkcellError, type WebhookEventType } from '@workcell/protocol';
import type { ObjectStore } from '../storage/object-store.js';
import * as layout from '../storage/layout.js';

/** A registered webhook endpoint, stored with its signing secret. */
export interface WebhookEndpoint {
  id: string;
  tenant: string;
  url: string;
  events: WebhookEventType[];
  secret: string;
  createdAt: string;
}

/** How many endpoints one tenant may register. */
export const MAX_ENDPOINTS_PER_TENANT = 20;

const ID_PATTERN = /^wh_[A-Za-z0-9]{16}$/;

export function newWebhookId(): string {
  return `wh_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
}

function notFound(): WorkcellError {
  return new WorkcellError('not_found', 'webhook not found');
}

/**
 * Tenants' webhook endpoints, one JSON object each in the ObjectStore under the tenant's prefix
 * (durable like the rest of what tenants make). Every lookup takes the tenant: another
 * tenant's id is not found.
 */
export class WebhookEndpointStore {
  constructor(private readonly store: ObjectStore) {}

  async create(endpoint: WebhookEndpoint): Promise<void> {
    const existing = await this.store.list(layout.webhooksPrefix(endpoint.tenant));
    if (existing.length >= MAX_ENDPOINTS_PER_TENANT)
      throw new WorkcellError(
        'conflict',
        `a tenant registers at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints`,
      );
    await this.store.put(
      layout.webhookKey(endpoint.tenant, endpoint.id),
      Buffer.from(JSON.stringify(endpoint)),
      { contentType: 'application/json' },
    );
  }

  /** The endpoint, or null (malformed ids and other tenants' ids included). */
  async find(tenant: string, id: string): Promise<WebhookEndpoint | null> {
    if (!ID_PATTERN.test(id)) return null;
    const buf = await this.store.getBuffer(layout.webhookKey(tenant, id));
    return buf ? (JSON.parse(buf.toString('utf8')) as WebhookEndpoint) : null;
  }

  /** Every endpoint of the tenant, oldest first. */
  async list(tenant: string): Promise<WebhookEndpoint[]> {
    const objects = await this.store.list(layout.webhooksPrefix(tenant));
    const records = await Promise.all(
      objects.map(async (o) => {
        const buf = await this.store.getBuffer(o.key);
        return buf ? (JSON.parse(buf.toString('utf8')) as WebhookEndpoint) : null;
      }),
    );
    return records
      .filter((r): r is WebhookEndpoint => r !== null)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Removes the endpoint; `not_found` when the tenant has none of that id. */
  async remove(tenant: string, id: string): Promise<void> {
    if (!(await this.find(tenant, id))) throw notFound();
    await this.store.delete(layout.webhookKey(tenant, id));
  }
}
