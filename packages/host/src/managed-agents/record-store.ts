import type { ObjectStore } from '../storage/object-store.js';
import { tenantRoot } from '../storage/layout.js';
import { isResourceId, type IdKind } from './ids.js';

/** The kinds of record the Managed Agents API keeps, each under its own prefix. */
export type RecordKind = 'agents' | 'environments' | 'vaults' | 'credentials' | 'sessions';

const KIND_ID: Record<RecordKind, IdKind> = {
  agents: 'agent',
  environments: 'environment',
  vaults: 'vault',
  credentials: 'credential',
  sessions: 'session',
};

/** At most this many records of one kind are read to answer a list. */
export const MAX_RECORDS_PER_LIST = 10_000;

/**
 * Managed Agents records as JSON in the object store, under the tenant's prefix
 * (`tenants/<t>/managed-agents/<kind>/[<parent>/]<id>.json`), so another tenant's id is not
 * found and the records outlive the host. Ids sort by creation time, so a listing of keys is
 * in creation order.
 */
export class RecordStore {
  constructor(private readonly store: ObjectStore) {}

  private prefix(tenant: string, kind: RecordKind, parent: string | null): string {
    return `${tenantRoot(tenant)}managed-agents/${kind}/${parent ? `${parent}/` : ''}`;
  }

  async get<T>(
    tenant: string,
    kind: RecordKind,
    id: string,
    parent: string | null = null,
  ): Promise<T | null> {
    if (!isResourceId(KIND_ID[kind], id)) return null;
    const buf = await this.store.getBuffer(`${this.prefix(tenant, kind, parent)}${id}.json`);
    return buf ? (JSON.parse(buf.toString('utf8')) as T) : null;
  }

  async put(
    tenant: string,
    kind: RecordKind,
    id: string,
    value: unknown,
    parent: string | null = null,
  ): Promise<void> {
    await this.store.put(`${this.prefix(tenant, kind, parent)}${id}.json`, JSON.stringify(value), {
      contentType: 'application/json',
    });
  }

  async delete(
    tenant: string,
    kind: RecordKind,
    id: string,
    parent: string | null = null,
  ): Promise<void> {
    await this.store.delete(`${this.prefix(tenant, kind, parent)}${id}.json`);
    // A record's children (an agent's versions, a vault's credentials) go with it.
    await this.store.deletePrefix(`${this.prefix(tenant, kind, id)}`);
  }

  /** Every record of the kind (under `parent`), oldest first. */
  async list<T>(tenant: string, kind: RecordKind, parent: string | null = null): Promise<T[]> {
    const prefix = this.prefix(tenant, kind, parent);
    const objects = await this.store.list(prefix, { limit: MAX_RECORDS_PER_LIST });
    const keys = objects
      .map((o) => o.key)
      .filter((k) => k.endsWith('.json') && !k.slice(prefix.length).includes('/'))
      .sort();
    const records = await Promise.all(keys.map((k) => this.store.getBuffer(k)));
    return records
      .filter((b): b is Buffer => b !== null)
      .map((b) => JSON.parse(b.toString('utf8')) as T);
  }
}
