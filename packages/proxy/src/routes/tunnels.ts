import type { Authority } from '../net/host.js';
import type { EgressPolicy } from '../policy/policy.js';
import { decideHost } from '../policy/policy.js';

/** One open CONNECT tunnel: where it goes and how to end it. */
export interface OpenTunnel {
  readonly target: Authority;
  /** Ends both sides at once. */
  close(): void;
}

/**
 * The open tunnels of one listener: capped in number, and re-decided when the workspace's policy
 * changes so a narrowed policy also ends the tunnels it no longer allows.
 */
export class TunnelSet {
  private readonly open = new Set<OpenTunnel>();

  constructor(private readonly max: number) {}

  /** Adds a tunnel; false when the listener already holds `max`. */
  tryAdd(tunnel: OpenTunnel): boolean {
    if (this.open.size >= this.max) return false;
    this.open.add(tunnel);
    return true;
  }

  delete(tunnel: OpenTunnel): void {
    this.open.delete(tunnel);
  }

  get size(): number {
    return this.open.size;
  }

  /** Closes every tunnel `policy` no longer allows; answers how many it closed. */
  revalidate(policy: EgressPolicy): number {
    let closed = 0;
    for (const tunnel of [...this.open]) {
      const decision = decideHost(policy, tunnel.target.host, tunnel.target.port, 'connect');
      if (decision.allowed) continue;
      this.open.delete(tunnel);
      tunnel.close();
      closed += 1;
    }
    return closed;
  }

  closeAll(): void {
    for (const tunnel of this.open) tunnel.close();
    this.open.clear();
  }
}
