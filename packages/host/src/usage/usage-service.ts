import type { Catalog, RunRecord } from '../catalog/catalog.js';
import { summariseUsage, type UsageRange, type UsageReport } from './usage.js';

/**
 * Usage of a workspace or a whole tenant, summed from the run records the catalog keeps in
 * the object store (each ended run's `run.completed` summary), so it survives the host and
 * Redis. A deleted workspace's runs go with it; a fork's copies of runs are not counted again.
 */
export class UsageService {
  constructor(private readonly catalog: Catalog) {}

  async workspace(tenant: string, workspaceId: string, range: UsageRange): Promise<UsageReport> {
    return summariseUsage(await this.runsOf(tenant, workspaceId), range);
  }

  async tenant(tenant: string, range: UsageRange): Promise<UsageReport> {
    const workspaces = await this.catalog.listWorkspaces(tenant);
    const runs: RunRecord[] = [];
    for (const ws of workspaces) runs.push(...(await this.runsOf(tenant, ws.id)));
    return summariseUsage(runs, range);
  }

  private async runsOf(tenant: string, workspaceId: string): Promise<RunRecord[]> {
    const conversations = await this.catalog.listConversations(tenant, workspaceId);
    return conversations.flatMap((c) => c.runs.filter((r) => r.forkedFrom === undefined));
  }
}
