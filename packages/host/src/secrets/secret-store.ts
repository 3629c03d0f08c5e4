import { WorkcellError } from '@workcell/protocol';
import type { SecretBinding } from '@workcell/proxy';
import type { Logger } from 'pino';
import type { ObjectStore } from '../storage/object-store.js';
import * as layout from '../storage/layout.js';
import type { SealedValue, SecretCipher } from './cipher.js';
import { canonicalSecretName, newPlaceholder, secretEnvName } from './names.js';

/** The most secrets one tenant, or one workspace, may hold. */
export const MAX_SECRETS_PER_SCOPE = 100;

/** A secret as stored: everything but the value in clear, the value sealed. */
export interface SecretRecord {
  name: string;
  hosts: string[];
  header: string | null;
  format: string | null;
  /** The placeholder is replaced in request header values to `hosts` (absent: yes). */
  headers?: boolean;
  /** The placeholder is replaced in request bodies to `hosts` too (absent in older records: no). */
  body?: boolean;
  placeholder: string;
  createdAt: string;
  updatedAt: string;
  sealed: SealedValue;
}

/** What the API shows of a secret: never its value. */
export interface SecretView {
  name: string;
  scope: 'tenant' | 'workspace';
  hosts: string[];
  header: string | null;
  format: string | null;
  /** Whether the placeholder is replaced in request header values to `hosts`. */
  headers: boolean;
  /** Whether the placeholder is replaced in request bodies to `hosts` too. */
  body: boolean;
  /** The container's environment variable holding the placeholder. */
  env: string;
  placeholder: string;
  createdAt: string;
  updatedAt: string;
}

/** A checked PUT body (hosts canonical, header lower-case). */
export interface SecretInput {
  value: string;
  hosts: string[];
  header: string | null;
  format: string | null;
  /** False: a placeholder in a header is forwarded as it stands (the value goes in bodies only). */
  headers: boolean;
  body: boolean;
}

interface ScopeEntry {
  readonly records: ReadonlyMap<string, SecretRecord>;
  readonly loadedAt: number;
}

/** Told a scope's secrets changed (`wid` null: the tenant's); may answer a promise to wait for. */
export type SecretsWatcher = (tenant: string, wid: string | null) => void | Promise<void>;

function sameRecords(
  a: ReadonlyMap<string, SecretRecord>,
  b: ReadonlyMap<string, SecretRecord>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [name, record] of a) {
    const other = b.get(name);
    if (!other || JSON.stringify(other) !== JSON.stringify(record)) return false;
  }
  return true;
}

/** How long cached secrets are served before they are read again in the background. */
export const SECRETS_REFRESH_MS = 5_000;

/** The additional data that binds a sealed value to where it belongs. */
function sealContext(tenant: string, wid: string | null, name: string): string {
  return `workcell-secret:v1:${tenant}:${wid ?? '*'}:${name}`;
}

function scopeKey(tenant: string, wid: string | null): string {
  return wid === null ? `t:${tenant}` : `w:${tenant}/${wid}`;
}

function viewOf(record: SecretRecord, scope: SecretView['scope']): SecretView {
  return {
    name: record.name,
    scope,
    hosts: record.hosts,
    header: record.header,
    format: record.format,
    headers: record.headers ?? true,
    body: record.body ?? false,
    env: secretEnvName(record.name),
    placeholder: record.placeholder,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/**
 * Workspace and tenant secrets, durable in the object store with each value sealed by
 * `SecretCipher`, and cached here for the proxy, which asks on every request (`bindings`). A
 * workspace sees the tenant's secrets plus its own, its own winning on a shared name. A change
 * made through this host applies to the next request at once; one made through another host
 * once the cache is older than SECRETS_REFRESH_MS.
 */
export class SecretStore {
  private readonly scopes = new Map<string, ScopeEntry>();
  private readonly loading = new Map<string, Promise<ScopeEntry>>();
  private readonly watchers = new Set<SecretsWatcher>();
  private readonly merged = new Map<
    string,
    { tenant: ScopeEntry; workspace: ScopeEntry; bindings: readonly SecretBinding[] }
  >();

  constructor(
    private readonly cipher: SecretCipher | null,
    private readonly store: ObjectStore,
    private readonly logger: Logger,
    private readonly options: { maxPerScope: number; now?: () => number } = {
      maxPerScope: MAX_SECRETS_PER_SCOPE,
    },
  ) {}

  /**
   * Calls `watcher` whenever a scope's secrets change (set, deleted, or read again with another
   * content; `wid` null: the tenant's, seen by all its workspaces); answers the function that
   * stops it. A `put` or `delete` answers once every watcher's promise has settled.
   */
  watch(watcher: SecretsWatcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  private async changed(tenant: string, wid: string | null): Promise<void> {
    await Promise.allSettled([...this.watchers].map(async (watcher) => watcher(tenant, wid)));
  }

  /** False when no `WORKCELL_SECRETS_KEY` is configured: the API answers 501, no secret applies. */
  get enabled(): boolean {
    return this.cipher !== null;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private requireCipher(): SecretCipher {
    if (!this.cipher)
      throw new WorkcellError(
        'secrets_not_configured',
        'secrets are not enabled on this host: set WORKCELL_SECRETS_KEY (base64 of 32 random bytes) to store them',
      );
    return this.cipher;
  }

  /** The secrets of one scope as they stand in the object store (cached; read again once stale). */
  private async scope(tenant: string, wid: string | null): Promise<ScopeEntry> {
    const key = scopeKey(tenant, wid);
    const cached = this.scopes.get(key);
    if (cached && this.now() - cached.loadedAt <= SECRETS_REFRESH_MS) return cached;
    return this.read(tenant, wid);
  }

  private read(tenant: string, wid: string | null): Promise<ScopeEntry> {
    const key = scopeKey(tenant, wid);
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.fetch(tenant, wid).finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }

  private async fetch(tenant: string, wid: string | null): Promise<ScopeEntry> {
    const objects = await this.store.list(layout.secretsPrefix(tenant, wid));
    const records = new Map<string, SecretRecord>();
    for (const object of objects) {
      if (!object.key.endsWith('.json')) continue;
      const buf = await this.store.getBuffer(object.key);
      if (!buf) continue;
      const record = JSON.parse(buf.toString('utf8')) as SecretRecord;
      records.set(record.name, record);
    }
    const entry: ScopeEntry = { records, loadedAt: this.now() };
    const before = this.scopes.get(scopeKey(tenant, wid));
    this.scopes.set(scopeKey(tenant, wid), entry);
    if (!before || !sameRecords(before.records, records)) await this.changed(tenant, wid);
    return entry;
  }

  private refresh(tenant: string, wid: string | null): void {
    this.read(tenant, wid).catch((err: unknown) => {
      this.logger.error(
        { tenant, workspaceId: wid, err: String(err) },
        'cannot reload secrets; keeping the cached ones',
      );
    });
  }

  /** Starts loading a workspace's secrets without waiting (a container was pointed at it). */
  prime(tenant: string | null, wid: string | null): void {
    if (!this.cipher || !tenant || !wid) return;
    this.refresh(tenant, null);
    this.refresh(tenant, wid);
  }

  /** Lists a scope: the tenant's secrets (`wid` null), or what a workspace sees. */
  async list(tenant: string, wid: string | null): Promise<SecretView[]> {
    this.requireCipher();
    const tenantScope = await this.scope(tenant, null);
    if (wid === null) return [...tenantScope.records.values()].map((r) => viewOf(r, 'tenant'));
    const own = await this.scope(tenant, wid);
    const views = new Map<string, SecretView>();
    for (const r of tenantScope.records.values()) views.set(r.name, viewOf(r, 'tenant'));
    for (const r of own.records.values()) views.set(r.name, viewOf(r, 'workspace'));
    return [...views.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One secret of a scope (a workspace's own or, through it, the tenant's). */
  async get(tenant: string, wid: string | null, rawName: string): Promise<SecretView> {
    const name = canonicalSecretName(rawName);
    const found = (await this.list(tenant, wid)).find((v) => v.name === name);
    if (!found) throw new WorkcellError('not_found', `secret ${name} not found`);
    return found;
  }

  /**
   * Creates or replaces a secret. A replaced secret keeps its placeholder, so containers
   * already running go on using it and get the new value with their next request.
   */
  async put(
    tenant: string,
    wid: string | null,
    rawName: string,
    input: SecretInput,
  ): Promise<{ view: SecretView; created: boolean }> {
    const cipher = this.requireCipher();
    const name = canonicalSecretName(rawName);
    const key = layout.secretKey(tenant, wid, name);
    const current = await this.fetch(tenant, wid);
    const existing = current.records.get(name);
    if (!existing && current.records.size >= this.options.maxPerScope)
      throw new WorkcellError(
        'conflict',
        `at most ${this.options.maxPerScope} secrets per ${wid === null ? 'tenant' : 'workspace'}`,
      );
    const now = new Date(this.now()).toISOString();
    const record: SecretRecord = {
      name,
      hosts: input.hosts,
      header: input.header,
      format: input.format,
      headers: input.headers,
      body: input.body,
      placeholder: existing?.placeholder ?? newPlaceholder(),
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      sealed: cipher.seal(input.value, sealContext(tenant, wid, name)),
    };
    await this.store.put(key, JSON.stringify(record), { contentType: 'application/json' });
    const records = new Map(current.records);
    records.set(name, record);
    this.scopes.set(scopeKey(tenant, wid), { records, loadedAt: this.now() });
    await this.changed(tenant, wid);
    return { view: viewOf(record, wid === null ? 'tenant' : 'workspace'), created: !existing };
  }

  /**
   * Gives workspace `toWid` a copy of workspace `fromWid`'s own secrets (a fork): each value is
   * opened and sealed again for its new place, placeholders kept. Nothing to copy without a
   * key: no secret can have been stored.
   */
  async copyWorkspace(tenant: string, fromWid: string, toWid: string): Promise<number> {
    const source = await this.fetch(tenant, fromWid);
    if (source.records.size === 0) return 0;
    const cipher = this.requireCipher();
    for (const record of source.records.values()) {
      const value = cipher.open(record.sealed, sealContext(tenant, fromWid, record.name));
      const copy: SecretRecord = {
        ...record,
        sealed: cipher.seal(value, sealContext(tenant, toWid, record.name)),
      };
      await this.store.put(layout.secretKey(tenant, toWid, record.name), JSON.stringify(copy), {
        contentType: 'application/json',
      });
    }
    return source.records.size;
  }

  /** Removes a secret of exactly this scope (a tenant secret is not removed through a workspace). */
  async delete(tenant: string, wid: string | null, rawName: string): Promise<void> {
    this.requireCipher();
    const name = canonicalSecretName(rawName);
    const current = await this.fetch(tenant, wid);
    if (!current.records.has(name))
      throw new WorkcellError(
        'not_found',
        `secret ${name} not found${wid === null ? '' : ' in this workspace'}`,
      );
    await this.store.delete(layout.secretKey(tenant, wid, name));
    const records = new Map(current.records);
    records.delete(name);
    this.scopes.set(scopeKey(tenant, wid), { records, loadedAt: this.now() });
    await this.changed(tenant, wid);
  }

  /** `WORKCELL_SECRET_<NAME>` -> placeholder for every secret a workspace sees (loaded fresh). */
  async placeholders(tenant: string, wid: string): Promise<Record<string, string>> {
    if (!this.cipher) return {};
    await Promise.all([this.scope(tenant, null), this.scope(tenant, wid)]);
    const env: Record<string, string> = {};
    for (const b of this.bindings(tenant, wid)) env[secretEnvName(b.name)] = b.placeholder;
    return env;
  }

  /**
   * What the proxy applies for a workspace now, from the cache (read on every request, so it
   * never waits on the store); a stale scope is read again in the background. Until a
   * workspace's secrets are loaded it has none: no tunnel is terminated and no value sent.
   */
  bindings(tenant: string | null, wid: string | null): readonly SecretBinding[] {
    if (!this.cipher || !tenant || !wid) return [];
    const tenantScope = this.scopes.get(scopeKey(tenant, null));
    const own = this.scopes.get(scopeKey(tenant, wid));
    if (!tenantScope || !own) {
      this.prime(tenant, wid);
      return [];
    }
    const now = this.now();
    if (now - tenantScope.loadedAt > SECRETS_REFRESH_MS) this.refresh(tenant, null);
    if (now - own.loadedAt > SECRETS_REFRESH_MS) this.refresh(tenant, wid);
    return this.cachedBindings(tenant, wid);
  }

  /**
   * What `bindings` answers, from the cache as it is: nothing is loaded or read again. The same
   * array comes back until one of the workspace's scopes changes.
   */
  cachedBindings(tenant: string | null, wid: string | null): readonly SecretBinding[] {
    const cipher = this.cipher;
    if (!cipher || !tenant || !wid) return [];
    const tenantScope = this.scopes.get(scopeKey(tenant, null));
    const own = this.scopes.get(scopeKey(tenant, wid));
    if (!tenantScope || !own) return [];
    const memo = this.merged.get(wid);
    if (memo && memo.tenant === tenantScope && memo.workspace === own) return memo.bindings;
    const byName = new Map<string, SecretBinding>();
    const add = (record: SecretRecord, scopeWid: string | null): void => {
      const context = sealContext(tenant, scopeWid, record.name);
      byName.set(record.name, {
        name: record.name,
        placeholder: record.placeholder,
        hosts: record.hosts,
        header: record.header,
        format: record.format,
        headers: record.headers ?? true,
        body: record.body ?? false,
        value: () => cipher.open(record.sealed, context),
      });
    };
    for (const r of tenantScope.records.values()) add(r, null);
    for (const r of own.records.values()) add(r, wid);
    const bindings = [...byName.values()];
    this.merged.set(wid, { tenant: tenantScope, workspace: own, bindings });
    return bindings;
  }

  /** Drops a deleted workspace from the cache (its records go with the workspace's prefix). */
  forget(wid: string): void {
    this.merged.delete(wid);
    for (const key of this.scopes.keys()) if (key.endsWith(`/${wid}`)) this.scopes.delete(key);
  }
}
