import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

/**
 * One listener's keep-alive connections to the model upstreams. Each listener (one container,
 * one workspace) has its own, so no upstream connection ever carries two workspaces' requests:
 * whatever one workspace manages to leave on a connection can only prefix its own next request.
 * A listener re-bound to another workspace starts with fresh connections.
 */
export class UpstreamAgents {
  private readonly agents = new Map<string, HttpAgent>();

  /** The keep-alive agent for `upstream`'s origin, created on first use. */
  for(upstream: URL): HttpAgent {
    let agent = this.agents.get(upstream.origin);
    if (!agent) {
      agent =
        upstream.protocol === 'https:'
          ? new HttpsAgent({ keepAlive: true })
          : new HttpAgent({ keepAlive: true });
      this.agents.set(upstream.origin, agent);
    }
    return agent;
  }

  /** Closes every connection; later requests open new ones. */
  reset(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
