import { WorkcellError, type AdminContainer } from '@workcell/protocol';
import type { FastifyInstance } from 'fastify';
import { LABELS, type ContainerInfo } from '../../containers/runtime.js';
import type { ContainerRecord } from '../../state/state-store.js';
import type { ApiServices } from '../context.js';
import { ops, route } from '../contract.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** One container as the state store and the engine each see it; either side may be missing. */
function view(
  id: string,
  record: ContainerRecord | undefined,
  info: ContainerInfo | undefined,
): AdminContainer {
  return {
    id,
    state: record?.state ?? null,
    workspaceId: record?.workspaceId ?? null,
    tenant: record?.tenant ?? null,
    runId: record?.runId ?? null,
    hostId: record?.hostId ?? info?.labels[LABELS.hostInstance] ?? null,
    image: record?.image ?? info?.image ?? null,
    createdAt: record ? iso(record.createdAt) : info ? info.createdAt.toISOString() : null,
    lastRunEndedAt: iso(record?.lastRunEndedAt ?? null),
    engine: info
      ? {
          status: info.status,
          running: info.running,
          paused: info.paused,
          exitCode: info.exitCode,
          oomKilled: info.oomKilled,
        }
      : null,
  };
}

/** `GET /v1/admin/containers`: admin tokens only; to anyone else the route does not exist (404). */
export function registerAdminRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, ops.adminContainers, async (request) => {
    if (!request.principal.admin)
      throw new WorkcellError('not_found', `no route GET ${ops.adminContainers.path}`);
    const [records, engine] = await Promise.all([
      s.state.listContainers(),
      s.runtime.list({ [LABELS.managed]: 'true' }),
    ]);
    const byRecord = new Map(records.map((r) => [r.id, r]));
    const byEngine = new Map(engine.map((c) => [c.id, c]));
    const ids = [...new Set([...byRecord.keys(), ...byEngine.keys()])];
    const containers = ids.map((id) => view(id, byRecord.get(id), byEngine.get(id)));
    containers.sort((a, b) => (a.createdAt ?? '').localeCompare(b.createdAt ?? ''));
    return { containers };
  });
}
