import type { FastifyInstance } from 'fastify';
import type { ApiServices } from '../context.js';
import type { SseHub } from '../sse.js';
import { registerManagedAgentsRoutes } from './routes.js';
import { createManagedAgents } from '../../managed-agents/service.js';

/** Builds the Managed Agents services on the API's and registers their routes. */
export function registerManagedAgents(app: FastifyInstance, s: ApiServices, hub: SseHub): void {
  const ma = s.managedAgents
    ? createManagedAgents(s.managedAgents, {
        catalog: s.catalog,
        execute: s.execute,
        exec: s.exec,
        archives: s.archives,
        events: s.events,
        state: s.state,
        workspaces: s.workspaces,
        approvals: s.approvals,
        agentSettings: s.agentSettings,
        secrets: s.secrets,
        policies: s.egress.policies,
        egressChanged: (tenant, workspaceId) => s.control.egressChanged(tenant, workspaceId),
        logger: s.logger.child({ component: 'managed-agents' }),
      })
    : null;
  registerManagedAgentsRoutes(app, ma, hub);
}
