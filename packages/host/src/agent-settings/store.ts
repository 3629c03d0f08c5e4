import type { ObjectStore } from '../storage/object-store.js';
import * as layout from '../storage/layout.js';
import { agentSettingsSchema, type AgentSettings } from './schema.js';

/** A workspace's agent settings, durable in the object store (`agent.json`). */
export class AgentSettingsStore {
  constructor(private readonly store: ObjectStore) {}

  /** The workspace's settings; `{}` when it has none. */
  async get(tenant: string, workspaceId: string): Promise<AgentSettings> {
    const buf = await this.store.getBuffer(layout.workspaceAgentKey(tenant, workspaceId));
    if (!buf) return {};
    // Stored settings passed this schema when written; parsing again keeps a hand-edited object honest.
    return agentSettingsSchema.parse(JSON.parse(buf.toString('utf8')));
  }

  async put(tenant: string, workspaceId: string, settings: AgentSettings): Promise<void> {
    await this.store.put(
      layout.workspaceAgentKey(tenant, workspaceId),
      Buffer.from(JSON.stringify(settings)),
      { contentType: 'application/json' },
    );
  }
}
