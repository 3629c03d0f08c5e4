import type { EgressPolicy } from '@workcell/proxy';

/**
 * The operator's egress policy and each workspace's narrowing of it. `effective` is read by
 * the proxy on every request, so a change applies to a running container at once.
 */
export class PolicyStore {
  private readonly narrowed = new Map<string, { hosts: string[]; policy: EgressPolicy }>();

  constructor(readonly operator: EgressPolicy) {}

  effective(workspaceId: string | null): EgressPolicy {
    return (workspaceId ? this.narrowed.get(workspaceId)?.policy : undefined) ?? this.operator;
  }

  hostsOf(workspaceId: string): string[] | null {
    return this.narrowed.get(workspaceId)?.hosts ?? null;
  }

  set(workspaceId: string, hosts: string[], policy: EgressPolicy): void {
    this.narrowed.set(workspaceId, { hosts, policy });
  }

  clear(workspaceId: string): void {
    this.narrowed.delete(workspaceId);
  }
}
