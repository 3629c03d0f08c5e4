import { EMPTY_POLICY, narrowPolicy, type EgressPattern, type EgressPolicy } from '@workcell/proxy';
import type { Logger } from 'pino';
import type { ObjectStore } from '../storage/object-store.js';
import * as layout from '../storage/layout.js';

/** Told a workspace's policy changed; may answer a promise the change waits for. */
export type PolicyWatcher = (workspaceId: string) => void | Promise<void>;

/** Allow patterns a workspace gets besides its hosts (its MCP servers' hosts). */
export type ExtraAllow = (tenant: string, workspaceId: string) => Promise<readonly EgressPattern[]>;

interface Entry {
  /** The hosts the workspace asked for; null when it uses the operator's list. */
  hosts: string[] | null;
  /** Patterns the workspace's agent settings add (MCP server hosts). */
  extra: readonly EgressPattern[];
  policy: EgressPolicy;
  tenant: string;
  loadedAt: number;
}

/**
 * How long a cached policy is served before it is read again in the background, so a change
 * made through another host (several hosts share one object store) reaches this one.
 */
export const POLICY_REFRESH_MS = 5_000;

/**
 * The operator's egress policy and each workspace's narrowing of it, kept durable in the
 * object store (`egress.json`) and cached here. `effective` is read by the proxy on every
 * request, so a change applies to a running container at once. Until a workspace's policy is
 * loaded, and for containers not yet assigned, it answers a policy that allows nothing: a
 * narrowed workspace never runs with the broader list. The hosts of the workspace's MCP
 * servers (`extraAllow`) join its allow list whether or not it is narrowed.
 */
export class PolicyStore {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  private readonly watchers = new Set<PolicyWatcher>();

  constructor(
    readonly operator: EgressPolicy,
    private readonly store: ObjectStore,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly extraAllow: ExtraAllow = async () => [],
  ) {}

  /**
   * Calls `watcher` with a workspace id whenever that workspace's policy is set or reloaded, so
   * open tunnels are re-decided at once; answers the function that stops it. A change is
   * complete (`set` and `reload` answer) once every watcher's promise has settled.
   */
  watch(watcher: PolicyWatcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  private async changed(workspaceId: string): Promise<void> {
    await Promise.allSettled([...this.watchers].map(async (watcher) => watcher(workspaceId)));
  }

  /** The workspace's policy as cached now, without reading it again when stale. */
  cached(workspaceId: string | null): EgressPolicy {
    if (!workspaceId) return EMPTY_POLICY;
    return this.entries.get(workspaceId)?.policy ?? EMPTY_POLICY;
  }

  effective(workspaceId: string | null): EgressPolicy {
    if (!workspaceId) return EMPTY_POLICY;
    const entry = this.entries.get(workspaceId);
    if (entry && this.now() - entry.loadedAt > POLICY_REFRESH_MS)
      this.refresh(entry.tenant, workspaceId);
    return entry?.policy ?? EMPTY_POLICY;
  }

  /** Loads the workspace's stored narrowing (cached; read again once stale). */
  async load(tenant: string, workspaceId: string): Promise<Entry> {
    const cached = this.entries.get(workspaceId);
    if (cached && this.now() - cached.loadedAt <= POLICY_REFRESH_MS) return cached;
    return this.read(tenant, workspaceId);
  }

  private refresh(tenant: string, workspaceId: string): void {
    this.read(tenant, workspaceId).catch((err: unknown) => {
      this.logger.error(
        { workspaceId, err },
        'cannot reload the egress policy; keeping the cached one',
      );
    });
  }

  /** One read at a time per workspace. */
  private read(tenant: string, workspaceId: string): Promise<Entry> {
    let pending = this.loading.get(workspaceId);
    if (!pending) {
      pending = this.fetch(tenant, workspaceId).finally(() => this.loading.delete(workspaceId));
      this.loading.set(workspaceId, pending);
    }
    return pending;
  }

  /** Starts loading without waiting (called when a container is pointed at a workspace). */
  prime(tenant: string | null, workspaceId: string | null): void {
    if (!tenant || !workspaceId) return;
    this.load(tenant, workspaceId).catch((err: unknown) => {
      this.logger.error({ workspaceId, err }, 'cannot load the egress policy; egress stays closed');
    });
  }

  /** Narrows the workspace to `hosts` (each within the operator's list); null restores the operator's list. */
  async set(tenant: string, workspaceId: string, hosts: string[] | null): Promise<Entry> {
    if (hosts !== null) narrowPolicy(this.operator, hosts);
    const key = layout.workspaceEgressKey(tenant, workspaceId);
    if (hosts === null) await this.store.delete(key);
    else await this.store.put(key, JSON.stringify({ hosts }), { contentType: 'application/json' });
    return this.reload(tenant, workspaceId);
  }

  /** Reads the workspace's policy again now (its hosts or its agent settings changed). */
  async reload(tenant: string, workspaceId: string): Promise<Entry> {
    await this.loading.get(workspaceId)?.catch(() => undefined);
    return this.read(tenant, workspaceId);
  }

  /**
   * Reads the workspace's policy again now if this host has it cached (another host changed
   * it); the others load when first needed.
   */
  async reloadCached(tenant: string, workspaceId: string): Promise<void> {
    if (!this.entries.has(workspaceId)) return;
    await this.reload(tenant, workspaceId);
  }

  forget(workspaceId: string): void {
    this.entries.delete(workspaceId);
  }

  private async fetch(tenant: string, workspaceId: string): Promise<Entry> {
    const [buf, extra] = await Promise.all([
      this.store.getBuffer(layout.workspaceEgressKey(tenant, workspaceId)),
      this.extraAllow(tenant, workspaceId),
    ]);
    const loadedAt = this.now();
    const withExtra = (policy: EgressPolicy): EgressPolicy =>
      extra.length === 0 ? policy : { ...policy, allow: [...policy.allow, ...extra] };
    let entry: Entry = { hosts: null, extra, policy: withExtra(this.operator), tenant, loadedAt };
    if (buf) {
      const { hosts } = JSON.parse(buf.toString('utf8')) as { hosts: string[] };
      try {
        entry = {
          hosts,
          extra,
          policy: withExtra(narrowPolicy(this.operator, hosts)),
          tenant,
          loadedAt,
        };
      } catch (err) {
        // The operator's list shrank below what the workspace asked for: keep only what fits.
        const kept = hosts.filter((h) => {
          try {
            narrowPolicy(this.operator, [h]);
            return true;
          } catch {
            return false;
          }
        });
        this.logger.warn(
          { workspaceId, dropped: hosts.filter((h) => !kept.includes(h)), err },
          'workspace egress hosts outside the operator list were dropped',
        );
        entry = {
          hosts: kept,
          extra,
          policy: withExtra(narrowPolicy(this.operator, kept)),
          tenant,
          loadedAt,
        };
      }
    }
    const before = this.entries.get(workspaceId);
    this.entries.set(workspaceId, entry);
    // A change (made here or through another host, to the hosts or the agent's MCP servers)
    // reaches this workspace's open tunnels.
    if (
      before &&
      (JSON.stringify(before.hosts) !== JSON.stringify(entry.hosts) ||
        JSON.stringify(before.extra) !== JSON.stringify(entry.extra))
    )
      await this.changed(workspaceId);
    return entry;
  }
}
