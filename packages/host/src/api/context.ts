import type { Logger } from 'pino';
import type { TokenAuthenticator, Principal } from '../auth/tokens.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Orchestrator } from '../containers/orchestrator.js';
import type { ExecuteService } from '../execute/execute-service.js';
import type { RunEventLog } from '../execute/run-events.js';
import type { FilesService } from '../files/files-service.js';
import type { AuditTrail } from '../egress/gateway.js';
import type { PolicyStore } from '../egress/policy-store.js';

/** The services the HTTP routes use; built by the composition root. */
export interface ApiServices {
  auth: TokenAuthenticator;
  catalog: Catalog;
  orchestrator: Orchestrator;
  execute: ExecuteService;
  events: RunEventLog;
  files: FilesService;
  egress: { policies: PolicyStore; audit: AuditTrail };
  health: () => Promise<{ status: 'ok' | 'degraded'; body: Record<string, unknown> }>;
  logger: Logger;
  limits: { maxFileBytes: number; maxJsonBytes: number };
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}
