import type { RefusalReason } from '../http/responses.js';
import type { DenyReason } from '../policy/policy.js';
import type { SecretRefusalReason, SuspectedPlaceholder } from '../secrets/secrets.js';

/** Why a request ended as it did: allowed, a policy denial, or a refusal by the proxy. */
export type AuditReason =
  | 'incomplete'
  | 'allowed'
  | 'model-route'
  | 'intercepted'
  | DenyReason
  | RefusalReason
  | SecretRefusalReason;

/**
 * One structured record per request or tunnel. It names which credential the proxy added, never
 * its value, and carries the resolved address (for operators; client bodies never do).
 */
export interface AuditRecord {
  /** ISO time the request arrived. */
  time: string;
  workspaceId: string;
  containerId: string | null;
  method: string;
  /** Destination host (canonical), or the model upstream's host on the model routes. */
  host: string | null;
  port: number | null;
  /** The address dialed, or the address that failed the check. */
  address: string | null;
  decision: 'allow' | 'deny';
  /** Machine-readable: `allowed`, a DenyReason, or a refusal such as `invalid-target`. */
  reason: AuditReason;
  /** The pattern that decided, when one did. */
  rule: string | null;
  /** Status sent to the container; 200 for an established tunnel; null when none was sent. */
  status: number | null;
  /** Body or tunnel bytes received from the upstream and sent to the container. */
  bytesIn: number;
  /** Body or tunnel bytes sent from the container to the upstream. */
  bytesOut: number;
  durationMs: number;
  credential: 'anthropic-api-key' | 'aws-sigv4' | null;
  /** Names of the workspace secrets substituted into this request, or whose placeholder it was refused for. */
  secrets: string[];
  /**
   * Placeholder forms the proxy forwarded without replacing (base64 outside Basic, or in the
   * body): a container trying to move a placeholder where the proxy does not look.
   */
  suspected: SuspectedPlaceholder[];
  /** `tls`: one request inside a tunnel the proxy terminates because a secret is bound to its host. */
  route: 'anthropic' | 'bedrock' | 'connect' | 'http' | 'tls' | 'other';
}

export interface Identity {
  readonly workspaceId: string;
  readonly containerId: string | null;
}

/** Collects one record's fields while a request runs and emits it exactly once. */
export class AuditEntry {
  readonly record: AuditRecord;
  private readonly startedMs: number;
  private emitted = false;

  constructor(
    identity: Identity,
    method: string,
    route: AuditRecord['route'],
    private readonly clock: () => number,
    private readonly sink: (record: AuditRecord) => void,
  ) {
    this.startedMs = clock();
    this.record = {
      time: new Date(this.startedMs).toISOString(),
      workspaceId: identity.workspaceId,
      containerId: identity.containerId,
      method,
      host: null,
      port: null,
      address: null,
      decision: 'deny',
      reason: 'incomplete',
      rule: null,
      status: null,
      bytesIn: 0,
      bytesOut: 0,
      durationMs: 0,
      credential: null,
      secrets: [],
      suspected: [],
      route,
    };
  }

  emit(): void {
    if (this.emitted) return;
    this.emitted = true;
    this.record.durationMs = Math.max(0, this.clock() - this.startedMs);
    this.sink(this.record);
  }
}
