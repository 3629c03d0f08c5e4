import { randomBytes } from 'node:crypto';
import { WorkcellError, type WebhookEventType } from '@workcell/protocol';
import type { SecretCipher, SealedValue } from '../secrets/cipher.js';
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

/** An endpoint as lists show it: everything but the signing secret. */
export type WebhookEndpointInfo = Omit<WebhookEndpoint, 'secret'>;

/**
 * An endpoint as stored: with the operator's secrets key (`WORKCELL_SECRETS_KEY`) its signing
 * secret is sealed (`sealedSecret`, bound to the tenant and the endpoint id); without one, or in
 * a record written before the key was set, it is plain (`secret`).
 */
type StoredEndpoint = Omit<WebhookEndpoint, 'secret'> &
  (
    { secret: string; sealedSecret?: undefined } | { secret?: undefined; sealedSecret: SealedValue }
  );

/** What the sealed secret is bound to: a record copied to another tenant or id fails to open. */
function sealContext(tenant: string, id: string): string {
  return `webhook:${tenant}:${id}`;
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
 * tenant's id is not found. Given the secrets cipher, signing secrets are stored sealed.
 */
export class WebhookEndpointStore {
  constructor(
    private readonly store: ObjectStore,
    private readonly cipher: SecretCipher | null = null,
  ) {}

  async create(endpoint: WebhookEndpoint): Promise<void> {
    const existing = await this.store.list(layout.webhooksPrefix(endpoint.tenant));
    if (existing.length >= MAX_ENDPOINTS_PER_TENANT)
      throw new WorkcellError(
        'conflict',
        `a tenant registers at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints`,
      );
    await this.store.put(
      layout.webhookKey(endpoint.tenant, endpoint.id),
      Buffer.from(JSON.stringify(this.stored(endpoint))),
      { contentType: 'application/json' },
    );
  }

  /** The endpoint, or null (malformed ids and other tenants' ids included). */
  async find(tenant: string, id: string): Promise<WebhookEndpoint | null> {
    if (!ID_PATTERN.test(id)) return null;
    const buf = await this.store.getBuffer(layout.webhookKey(tenant, id));
    return buf ? this.endpoint(buf, tenant, id) : null;
  }

  /** Every endpoint of the tenant, oldest first, without its signing secret. */
  async list(tenant: string): Promise<WebhookEndpointInfo[]> {
    const objects = await this.store.list(layout.webhooksPrefix(tenant));
    const records = await Promise.all(
      objects.map(async (o) => {
        const buf = await this.store.getBuffer(o.key);
        if (!buf) return null;
        const {
          secret: _s,
          sealedSecret: _sealed,
          ...info
        } = JSON.parse(buf.toString('utf8')) as StoredEndpoint;
        return info.tenant === tenant ? info : null;
      }),
    );
    return records
      .filter((r): r is WebhookEndpointInfo => r !== null)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Removes the endpoint; `not_found` when the tenant has none of that id. */
  async remove(tenant: string, id: string): Promise<void> {
    if (!(await this.find(tenant, id))) throw notFound();
    await this.store.delete(layout.webhookKey(tenant, id));
  }

  private stored(endpoint: WebhookEndpoint): StoredEndpoint {
    if (!this.cipher) return endpoint;
    const { secret, ...rest } = endpoint;
    return { ...rest, sealedSecret: this.cipher.seal(secret, sealContext(rest.tenant, rest.id)) };
  }

  /**
   * The endpoint a stored record holds, its secret opened. A record that is not the tenant's
   * (or not the id it is stored under), or whose secret cannot be opened (altered, moved, or
   * sealed while a key was set that is no longer), is refused with `internal`: deliveries to it
   * fail and are logged rather than signed with anything else.
   */
  private endpoint(buf: Buffer, tenant: string, id: string): WebhookEndpoint {
    const record = JSON.parse(buf.toString('utf8')) as StoredEndpoint;
    if (record.tenant !== tenant || record.id !== id)
      throw new WorkcellError(
        'internal',
        `webhook record ${record.id} is not stored where it belongs`,
      );
    if (record.sealedSecret === undefined) return record;
    if (!this.cipher)
      throw new WorkcellError(
        'internal',
        `webhook ${record.id} has a sealed signing secret and WORKCELL_SECRETS_KEY is not set`,
      );
    const { sealedSecret, ...rest } = record;
    try {
      return { ...rest, secret: this.cipher.open(sealedSecret, sealContext(tenant, record.id)) };
    } catch {
      throw new WorkcellError(
        'internal',
        `webhook ${record.id}: its signing secret does not open with the configured key`,
      );
    }
  }
}
