import type { AuditRecord, CredentialProxy, EgressPolicy } from '@workcell/proxy';
import type { EgressAttachment, EgressGateway, EgressIdentity } from '../containers/egress.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { PolicyStore } from './policy-store.js';

/**
 * Wires the credential proxy into the orchestrator: one listener per container socket, whose
 * policy is read per request from the workspace's narrowed policy (or the operator's).
 */
export class ProxyEgressGateway implements EgressGateway {
  constructor(
    private readonly proxy: CredentialProxy,
    private readonly policies: PolicyStore,
    private readonly secrets: SecretStore | null = null,
  ) {}

  async attach(socketPath: string, identity: EgressIdentity): Promise<EgressAttachment> {
    let current = identity;
    this.policies.prime(identity.tenant, identity.workspaceId);
    const listener = await this.proxy.listen(
      socketPath,
      { workspaceId: identity.workspaceId ?? 'unassigned', containerId: identity.containerId },
      (): EgressPolicy => this.policies.effective(current.workspaceId),
      () => this.secrets?.bindings(current.tenant, current.workspaceId) ?? [],
    );
    // A narrowed policy ends this container's tunnels it no longer allows, at once.
    const unwatch = this.policies.watch((workspaceId) => {
      if (workspaceId === current.workspaceId) listener.revalidate();
    });
    this.secrets?.prime(identity.tenant, identity.workspaceId);
    return {
      setIdentity: (next) => {
        current = next;
        this.policies.prime(next.tenant, next.workspaceId);
        this.secrets?.prime(next.tenant, next.workspaceId);
        listener.setIdentity({
          workspaceId: next.workspaceId ?? 'unassigned',
          containerId: next.containerId,
        });
      },
      close: () => {
        unwatch();
        return listener.close();
      },
    };
  }

  async close(): Promise<void> {
    await this.proxy.close();
  }
}

/** Keeps the most recent audit records per workspace for `GET /v1/workspaces/:wid/egress`. */
export class AuditTrail {
  private readonly byWorkspace = new Map<string, AuditRecord[]>();

  constructor(private readonly perWorkspace = 200) {}

  record(entry: AuditRecord): void {
    const list = this.byWorkspace.get(entry.workspaceId) ?? [];
    list.push(entry);
    if (list.length > this.perWorkspace) list.splice(0, list.length - this.perWorkspace);
    this.byWorkspace.set(entry.workspaceId, list);
  }

  /**
   * The workspace's most recent records as its tenant sees them: without the resolved address,
   * which only operators see (in the host log).
   */
  recent(workspaceId: string, limit = 50): Array<Omit<AuditRecord, 'address'>> {
    return (this.byWorkspace.get(workspaceId) ?? []).slice(-limit).map((record) => {
      const { address: _address, ...rest } = record;
      return rest;
    });
  }

  forget(workspaceId: string): void {
    this.byWorkspace.delete(workspaceId);
  }
}
