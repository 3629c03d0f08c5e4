import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { SseHub } from '../sse.js';
import { AnthropicApiError, unsupported } from '../../managed-agents/errors.js';
import {
  maOps,
  UNSUPPORTED_OPERATIONS,
  UNSUPPORTED_RESOURCES,
  type ManagedAgentsOperation,
} from '../../managed-agents/operations.js';
import { paginate } from '../../managed-agents/page.js';
import {
  agentCreateBody,
  agentUpdateBody,
  credentialCreateBody,
  credentialUpdateBody,
  environmentCreateBody,
  environmentUpdateBody,
  eventsSendBody,
  parseWith,
  refuseUnsupported,
  sendableEvent,
  sessionCreateBody,
  sessionUpdateBody,
  vaultCreateBody,
  vaultUpdateBody,
  type SendableEvent,
} from '../../managed-agents/schemas.js';
import type { ManagedAgents } from '../../managed-agents/service.js';
import { streamSession } from './stream.js';
import { sendAnthropicError } from './errors.js';

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined;
interface Input<O extends ManagedAgentsOperation> {
  params: Parsed<O['params']>;
  query: Parsed<O['query']>;
}

/** Registers one operation: path parameters and query validated, the body left to the handler. */
function route<O extends ManagedAgentsOperation>(
  app: FastifyInstance,
  operation: O,
  handler: (request: FastifyRequest, reply: FastifyReply, input: Input<O>) => Promise<unknown>,
): void {
  app.route({
    method: operation.method,
    url: operation.path,
    config: { newWork: operation.newWork === true },
    handler: async (request, reply) => {
      const input = {
        params: operation.params ? parseWith(operation.params, request.params, 'path') : undefined,
        query: operation.query ? parseWith(operation.query, request.query, 'query') : undefined,
      } as Input<O>;
      return handler(request, reply, input);
    },
  });
}

const archived = (q: { include_archived?: 'true' | 'false' | undefined }): boolean =>
  q.include_archived === 'true';

/** Known event types the SDK can send that Workcell does not serve, and why. */
const UNSUPPORTED_EVENTS: Readonly<Record<string, string>> = {
  'user.define_outcome': 'outcomes (user.define_outcome)',
  'user.tool_result': 'user.tool_result events',
  'system.message': 'system.message events',
};

function sendable(events: readonly unknown[]): SendableEvent[] {
  return events.map((e, i) => {
    const type = (e as { type?: unknown } | null)?.type;
    if (typeof type === 'string' && UNSUPPORTED_EVENTS[type])
      throw unsupported(UNSUPPORTED_EVENTS[type]);
    const content = (e as { content?: unknown[] } | null)?.content;
    if (type === 'user.message' && Array.isArray(content))
      for (const block of content) {
        const b = block as { type?: unknown; source?: { type?: unknown } };
        if (b.type === 'document') throw unsupported('document blocks in user.message');
        if (b.type === 'image' && b.source?.type !== 'base64')
          throw unsupported(`image sources of type "${String(b.source?.type)}" (send base64)`);
      }
    return parseWith(sendableEvent, e, `events.${i}`);
  });
}

/**
 * The Managed Agents API's routes, in a scope of their own whose errors answer in Anthropic's
 * shape (`errors.ts`). The work is in the services (`service.ts`).
 */
export function registerManagedAgentsRoutes(
  app: FastifyInstance,
  ma: ManagedAgents | null,
  hub: SseHub,
): void {
  void app.register(async (scope) => {
    scope.setErrorHandler((err, request, reply) => sendAnthropicError(reply, err, request));
    const svc = (): ManagedAgents => {
      if (!ma)
        throw new AnthropicApiError(
          'api_error',
          'the Managed Agents API is not configured on this host',
          501,
        );
      return ma;
    };
    const t = (r: FastifyRequest): string => r.principal.tenant;

    route(scope, maOps.createAgent, async (r) => {
      refuseUnsupported('agent', r.body);
      return svc().agents.create(t(r), parseWith(agentCreateBody, r.body));
    });
    route(scope, maOps.listAgents, async (r, _reply, { query }) =>
      paginate(await svc().agents.list(t(r), archived(query)), query),
    );
    route(scope, maOps.retrieveAgent, async (r, _reply, { params, query }) =>
      svc().agents.retrieve(t(r), params.agent_id, query.version),
    );
    route(scope, maOps.updateAgent, async (r, _reply, { params }) => {
      refuseUnsupported('agent', r.body);
      return svc().agents.update(t(r), params.agent_id, parseWith(agentUpdateBody, r.body));
    });
    route(scope, maOps.archiveAgent, async (r, _reply, { params }) =>
      svc().agents.archive(t(r), params.agent_id),
    );
    route(scope, maOps.listAgentVersions, async (r, _reply, { params, query }) =>
      paginate(await svc().agents.versions(t(r), params.agent_id), query),
    );

    route(scope, maOps.createEnvironment, async (r) => {
      refuseUnsupported('environment', r.body);
      return svc().environments.create(t(r), parseWith(environmentCreateBody, r.body));
    });
    route(scope, maOps.listEnvironments, async (r, _reply, { query }) =>
      paginate(await svc().environments.list(t(r), archived(query)), query),
    );
    route(scope, maOps.retrieveEnvironment, async (r, _reply, { params }) =>
      svc().environments.retrieve(t(r), params.environment_id),
    );
    route(scope, maOps.updateEnvironment, async (r, _reply, { params }) => {
      refuseUnsupported('environment', r.body);
      return svc().environments.update(
        t(r),
        params.environment_id,
        parseWith(environmentUpdateBody, r.body),
      );
    });
    route(scope, maOps.deleteEnvironment, async (r, _reply, { params }) =>
      svc().environments.delete(t(r), params.environment_id),
    );
    route(scope, maOps.archiveEnvironment, async (r, _reply, { params }) =>
      svc().environments.archive(t(r), params.environment_id),
    );

    route(scope, maOps.createSession, async (r) => {
      refuseUnsupported('session', r.body);
      const agent = (r.body as { agent?: { type?: unknown } } | null)?.agent;
      if (typeof agent === 'object' && agent?.type === 'agent_with_overrides')
        throw unsupported('per-session agent overrides (agent_with_overrides)');
      return svc().sessions.create(r.principal, parseWith(sessionCreateBody, r.body));
    });
    route(scope, maOps.listSessions, async (r, _reply, { query }) => {
      const q = r.query as Record<string, unknown>;
      if (
        q['statuses[]'] !== undefined ||
        q.statuses !== undefined ||
        q.memory_store_id !== undefined ||
        q.deployment_id !== undefined
      )
        throw unsupported('this session list filter');
      const sessions = await svc().sessions.list(t(r), {
        includeArchived: archived(query),
        agentId: query.agent_id,
        agentVersion: query.agent_version,
        order: query.order ?? 'desc',
      });
      return paginate(sessions, query);
    });
    route(scope, maOps.retrieveSession, async (r, _reply, { params }) =>
      svc().sessions.retrieve(t(r), params.session_id),
    );
    route(scope, maOps.updateSession, async (r, _reply, { params }) => {
      refuseUnsupported('sessionUpdate', r.body);
      return svc().sessions.update(t(r), params.session_id, parseWith(sessionUpdateBody, r.body));
    });
    route(scope, maOps.deleteSession, async (r, _reply, { params }) =>
      svc().sessions.delete(t(r), params.session_id),
    );
    route(scope, maOps.archiveSession, async (r, _reply, { params }) =>
      svc().sessions.archive(t(r), params.session_id),
    );
    route(scope, maOps.listEvents, async (r, _reply, { params, query }) => {
      const history = await svc().sessions.history(t(r), params.session_id);
      if (query.order === 'desc') history.reverse();
      return paginate(history, query, 1000);
    });
    route(scope, maOps.sendEvents, async (r, _reply, { params }) => {
      const body = parseWith(eventsSendBody, r.body);
      const data = await svc().sessions.send(r.principal, params.session_id, sendable(body.events));
      return { data };
    });
    route(scope, maOps.streamEvents, async (r, reply, { params }) => {
      const q = r.query as Record<string, unknown>;
      if (q['event_deltas[]'] !== undefined || q.event_deltas !== undefined)
        throw unsupported('live previews (event_deltas)');
      return streamSession(svc().sessions, hub, r, reply, params.session_id);
    });

    route(scope, maOps.createVault, async (r) =>
      svc().vaults.create(t(r), parseWith(vaultCreateBody, r.body)),
    );
    route(scope, maOps.listVaults, async (r, _reply, { query }) =>
      paginate(await svc().vaults.list(t(r), archived(query)), query),
    );
    route(scope, maOps.retrieveVault, async (r, _reply, { params }) =>
      svc().vaults.vault(t(r), params.vault_id),
    );
    route(scope, maOps.updateVault, async (r, _reply, { params }) =>
      svc().vaults.update(t(r), params.vault_id, parseWith(vaultUpdateBody, r.body)),
    );
    route(scope, maOps.deleteVault, async (r, _reply, { params }) =>
      svc().vaults.delete(t(r), params.vault_id),
    );
    route(scope, maOps.archiveVault, async (r, _reply, { params }) =>
      svc().vaults.archive(t(r), params.vault_id),
    );
    route(scope, maOps.createCredential, async (r, _reply, { params }) => {
      const auth = (r.body as { auth?: { type?: unknown } } | null)?.auth;
      if (auth?.type === 'mcp_oauth') throw unsupported('mcp_oauth credentials');
      return svc().vaults.createCredential(
        t(r),
        params.vault_id,
        parseWith(credentialCreateBody, r.body),
      );
    });
    route(scope, maOps.listCredentials, async (r, _reply, { params, query }) =>
      paginate(await svc().vaults.listCredentials(t(r), params.vault_id, archived(query)), query),
    );
    route(scope, maOps.retrieveCredential, async (r, _reply, { params }) =>
      svc().vaults.credential(t(r), params.vault_id, params.credential_id),
    );
    route(scope, maOps.updateCredential, async (r, _reply, { params }) =>
      svc().vaults.updateCredential(
        t(r),
        params.vault_id,
        params.credential_id,
        parseWith(credentialUpdateBody, r.body),
      ),
    );
    route(scope, maOps.deleteCredential, async (r, _reply, { params }) =>
      svc().vaults.deleteCredential(t(r), params.vault_id, params.credential_id),
    );
    route(scope, maOps.archiveCredential, async (r, _reply, { params }) =>
      svc().vaults.archiveCredential(t(r), params.vault_id, params.credential_id),
    );

    for (const operation of UNSUPPORTED_OPERATIONS) {
      const base = operation.path.replace(/\/\*$/, '');
      const feature =
        UNSUPPORTED_RESOURCES.find((u) => u.path === base)?.feature ?? 'this resource';
      scope.route({
        method: operation.method,
        url: operation.path,
        handler: async () => {
          throw unsupported(feature);
        },
      });
    }
  });
}
