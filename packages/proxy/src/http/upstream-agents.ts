import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { STREAM_HIGH_WATER_MARK } from '../net/buffers.js';

/**
 * One listener's keep-alive connections to the model upstreams. Each listener (one container,
 * one workspace) has its own, so no upstream connection ever carries two workspaces' requests:
 * whatever one workspace manages to leave on a connection can only prefix its own next request.
 * A listener re-bound to another workspace starts with fresh connections. Their sockets, and the
 * responses read from them, buffer `STREAM_HIGH_WATER_MARK` bytes.
 */
export class UpstreamAgents {
  private readonly agents = new Map<string, HttpAgent>();

  /** The keep-alive agent for `upstream`'s origin, created on first use. */
  for(upstream: URL): HttpAgent {
    let agent = this.agents.get(upstream.origin);
    if (!agent) {
      // The agent hands its options to each socket it creates (`net.connect`, `tls.connect`).
      const options = { keepAlive: true, highWaterMark: STREAM_HIGH_WATER_MARK };
      agent = upstream.protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options);
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
