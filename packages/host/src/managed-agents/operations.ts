import { z } from 'zod';
import { pageQuery } from './page.js';
import {
  agentCreateBody,
  agentUpdateBody,
  credentialCreateBody,
  credentialUpdateBody,
  environmentCreateBody,
  environmentUpdateBody,
  eventsSendBody,
  sessionCreateBody,
  sessionUpdateBody,
  vaultCreateBody,
  vaultUpdateBody,
} from './schemas.js';

/**
 * The Managed Agents API as data: each operation's SDK method, HTTP method and path, in the
 * shape of the API's operation table (`api/contract.ts`), which adds them to `/openapi.json`.
 * The contract test checks each against the pinned `@anthropic-ai/sdk`.
 */

type Method = 'GET' | 'POST' | 'DELETE';

/** An answer, as `api/contract.ts` describes them. */
interface Response {
  description: string;
  schema?: z.ZodType;
  contentType?: string;
}

export interface ManagedAgentsOperation {
  readonly id: string;
  /** The SDK method, as `client.beta.<sdk>(...)` calls it (null: a refusal route). */
  readonly sdk: string | null;
  readonly method: Method;
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: 'managed-agents';
  readonly auth: 'bearer';
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  /**
   * Starts new work (a run, an exec, a workspace, an upload): refused with 503
   * `dependency_unavailable` and `Retry-After` while a store of the host is down.
   */
  readonly newWork?: true;
  readonly responses: Readonly<Record<number, Response>>;
}

const id = (what: string): z.ZodString => z.string().describe(`the ${what} id`);
const agentParams = z.object({ agent_id: id('agent') });
const envParams = z.object({ environment_id: id('environment') });
const sessionParams = z.object({ session_id: id('session') });
const vaultParams = z.object({ vault_id: id('vault') });
const credentialParams = z.object({ vault_id: id('vault'), credential_id: id('credential') });
const archivedQuery = pageQuery.extend({
  include_archived: z.enum(['true', 'false']).optional().describe('list archived ones too'),
});

const object = (what: string): Response => ({
  description: `the ${what}`,
  schema: z.looseObject({ id: z.string(), type: z.string() }),
});
const page = (what: string): Response => ({
  description: `a page of ${what}: \`data\`, \`next_page\` (the cursor for \`?page=\`)`,
  schema: z.object({
    data: z.array(z.looseObject({ id: z.string(), type: z.string() })),
    next_page: z.string().nullable(),
  }),
});

const op = <const O extends Omit<ManagedAgentsOperation, 'tag' | 'auth'>>(
  o: O,
): O & { tag: 'managed-agents'; auth: 'bearer' } => ({
  ...o,
  tag: 'managed-agents',
  auth: 'bearer',
});

export const maOps = {
  createAgent: op({
    id: 'maCreateAgent',
    sdk: 'agents.create',
    method: 'POST',
    path: '/v1/agents',
    summary: 'Create an agent (version 1)',
    body: agentCreateBody,
    responses: { 200: object('agent') },
  }),
  listAgents: op({
    id: 'maListAgents',
    sdk: 'agents.list',
    method: 'GET',
    path: '/v1/agents',
    summary: 'List agents, newest first',
    query: archivedQuery,
    responses: { 200: page('agents') },
  }),
  retrieveAgent: op({
    id: 'maRetrieveAgent',
    sdk: 'agents.retrieve',
    method: 'GET',
    path: '/v1/agents/:agent_id',
    summary: 'An agent: its latest version, or `?version=`',
    params: agentParams,
    query: z.object({ version: z.coerce.number().int().min(1).optional() }),
    responses: { 200: object('agent') },
  }),
  updateAgent: op({
    id: 'maUpdateAgent',
    sdk: 'agents.update',
    method: 'POST',
    path: '/v1/agents/:agent_id',
    summary: 'Update an agent: a new immutable version',
    description: 'A `version` other than the latest answers 409.',
    params: agentParams,
    body: agentUpdateBody,
    responses: { 200: object('agent') },
  }),
  archiveAgent: op({
    id: 'maArchiveAgent',
    sdk: 'agents.archive',
    method: 'POST',
    path: '/v1/agents/:agent_id/archive',
    summary: 'Archive an agent (read-only; no new sessions)',
    params: agentParams,
    responses: { 200: object('agent') },
  }),
  listAgentVersions: op({
    id: 'maListAgentVersions',
    sdk: 'agents.versions.list',
    method: 'GET',
    path: '/v1/agents/:agent_id/versions',
    summary: "An agent's versions, newest first",
    params: agentParams,
    query: pageQuery,
    responses: { 200: page('agent versions') },
  }),

  createEnvironment: op({
    id: 'maCreateEnvironment',
    sdk: 'environments.create',
    method: 'POST',
    path: '/v1/environments',
    summary: 'Create an environment',
    body: environmentCreateBody,
    responses: { 200: object('environment') },
  }),
  listEnvironments: op({
    id: 'maListEnvironments',
    sdk: 'environments.list',
    method: 'GET',
    path: '/v1/environments',
    summary: 'List environments, newest first',
    query: archivedQuery,
    responses: { 200: page('environments') },
  }),
  retrieveEnvironment: op({
    id: 'maRetrieveEnvironment',
    sdk: 'environments.retrieve',
    method: 'GET',
    path: '/v1/environments/:environment_id',
    summary: 'An environment',
    params: envParams,
    responses: { 200: object('environment') },
  }),
  updateEnvironment: op({
    id: 'maUpdateEnvironment',
    sdk: 'environments.update',
    method: 'POST',
    path: '/v1/environments/:environment_id',
    summary: 'Update an environment (new sessions get the change)',
    params: envParams,
    body: environmentUpdateBody,
    responses: { 200: object('environment') },
  }),
  deleteEnvironment: op({
    id: 'maDeleteEnvironment',
    sdk: 'environments.delete',
    method: 'DELETE',
    path: '/v1/environments/:environment_id',
    summary: 'Delete an environment',
    params: envParams,
    responses: { 200: object('deletion') },
  }),
  archiveEnvironment: op({
    id: 'maArchiveEnvironment',
    sdk: 'environments.archive',
    method: 'POST',
    path: '/v1/environments/:environment_id/archive',
    summary: 'Archive an environment',
    params: envParams,
    responses: { 200: object('environment') },
  }),

  createSession: op({
    id: 'maCreateSession',
    newWork: true,
    sdk: 'sessions.create',
    method: 'POST',
    path: '/v1/sessions',
    summary: 'Create a session: a workspace with one conversation',
    body: sessionCreateBody,
    responses: { 200: object('session') },
  }),
  listSessions: op({
    id: 'maListSessions',
    sdk: 'sessions.list',
    method: 'GET',
    path: '/v1/sessions',
    summary: 'List sessions (newest first unless `order=asc`)',
    query: archivedQuery.extend({
      agent_id: z.string().optional(),
      agent_version: z.coerce.number().int().optional(),
      order: z.enum(['asc', 'desc']).optional(),
    }),
    responses: { 200: page('sessions') },
  }),
  retrieveSession: op({
    id: 'maRetrieveSession',
    sdk: 'sessions.retrieve',
    method: 'GET',
    path: '/v1/sessions/:session_id',
    summary: 'A session with its status and usage',
    params: sessionParams,
    responses: { 200: object('session') },
  }),
  updateSession: op({
    id: 'maUpdateSession',
    sdk: 'sessions.update',
    method: 'POST',
    path: '/v1/sessions/:session_id',
    summary: "Update a session's title or metadata",
    params: sessionParams,
    body: sessionUpdateBody,
    responses: { 200: object('session') },
  }),
  deleteSession: op({
    id: 'maDeleteSession',
    sdk: 'sessions.delete',
    method: 'DELETE',
    path: '/v1/sessions/:session_id',
    summary: 'Delete a session: its workspace, container and history',
    params: sessionParams,
    responses: { 200: object('deletion') },
  }),
  archiveSession: op({
    id: 'maArchiveSession',
    sdk: 'sessions.archive',
    method: 'POST',
    path: '/v1/sessions/:session_id/archive',
    summary: 'Archive a session (read-only)',
    params: sessionParams,
    responses: { 200: object('session') },
  }),
  listEvents: op({
    id: 'maListEvents',
    sdk: 'sessions.events.list',
    method: 'GET',
    path: '/v1/sessions/:session_id/events',
    summary: "A session's event history, a page at a time",
    params: sessionParams,
    query: pageQuery.extend({ order: z.enum(['asc', 'desc']).optional() }),
    responses: { 200: page('events') },
  }),
  sendEvents: op({
    id: 'maSendEvents',
    newWork: true,
    sdk: 'sessions.events.send',
    method: 'POST',
    path: '/v1/sessions/:session_id/events',
    summary: 'Send events: `user.message` (queued, taken in order) and `user.interrupt`',
    params: sessionParams,
    body: eventsSendBody,
    responses: {
      200: {
        description: 'the events as recorded',
        schema: z.object({ data: z.array(z.looseObject({ id: z.string(), type: z.string() })) }),
      },
    },
  }),
  streamEvents: op({
    id: 'maStreamEvents',
    sdk: 'sessions.events.stream',
    method: 'GET',
    path: '/v1/sessions/:session_id/events/stream',
    summary: "A session's events as SSE from now on",
    description:
      'Each event is `event: <type>`, `id: <event id>`, `data: <event JSON>`. With `Last-Event-ID`, the history after that event is sent first.',
    params: sessionParams,
    responses: { 200: { description: 'Server-Sent Events', contentType: 'text/event-stream' } },
  }),

  createVault: op({
    id: 'maCreateVault',
    sdk: 'vaults.create',
    method: 'POST',
    path: '/v1/vaults',
    summary: 'Create a vault',
    body: vaultCreateBody,
    responses: { 200: object('vault') },
  }),
  listVaults: op({
    id: 'maListVaults',
    sdk: 'vaults.list',
    method: 'GET',
    path: '/v1/vaults',
    summary: 'List vaults, newest first',
    query: archivedQuery,
    responses: { 200: page('vaults') },
  }),
  retrieveVault: op({
    id: 'maRetrieveVault',
    sdk: 'vaults.retrieve',
    method: 'GET',
    path: '/v1/vaults/:vault_id',
    summary: 'A vault',
    params: vaultParams,
    responses: { 200: object('vault') },
  }),
  updateVault: op({
    id: 'maUpdateVault',
    sdk: 'vaults.update',
    method: 'POST',
    path: '/v1/vaults/:vault_id',
    summary: 'Update a vault',
    params: vaultParams,
    body: vaultUpdateBody,
    responses: { 200: object('vault') },
  }),
  deleteVault: op({
    id: 'maDeleteVault',
    sdk: 'vaults.delete',
    method: 'DELETE',
    path: '/v1/vaults/:vault_id',
    summary: 'Delete a vault and its credentials',
    params: vaultParams,
    responses: { 200: object('deletion') },
  }),
  archiveVault: op({
    id: 'maArchiveVault',
    sdk: 'vaults.archive',
    method: 'POST',
    path: '/v1/vaults/:vault_id/archive',
    summary: 'Archive a vault',
    params: vaultParams,
    responses: { 200: object('vault') },
  }),
  createCredential: op({
    id: 'maCreateCredential',
    sdk: 'vaults.credentials.create',
    method: 'POST',
    path: '/v1/vaults/:vault_id/credentials',
    summary: 'Add a credential (its value is never shown again)',
    params: vaultParams,
    body: credentialCreateBody,
    responses: { 200: object('credential') },
  }),
  listCredentials: op({
    id: 'maListCredentials',
    sdk: 'vaults.credentials.list',
    method: 'GET',
    path: '/v1/vaults/:vault_id/credentials',
    summary: "A vault's credentials, newest first",
    params: vaultParams,
    query: archivedQuery,
    responses: { 200: page('credentials') },
  }),
  retrieveCredential: op({
    id: 'maRetrieveCredential',
    sdk: 'vaults.credentials.retrieve',
    method: 'GET',
    path: '/v1/vaults/:vault_id/credentials/:credential_id',
    summary: 'A credential (never its value)',
    params: credentialParams,
    responses: { 200: object('credential') },
  }),
  updateCredential: op({
    id: 'maUpdateCredential',
    sdk: 'vaults.credentials.update',
    method: 'POST',
    path: '/v1/vaults/:vault_id/credentials/:credential_id',
    summary: 'Update a credential (rotate its value)',
    params: credentialParams,
    body: credentialUpdateBody,
    responses: { 200: object('credential') },
  }),
  deleteCredential: op({
    id: 'maDeleteCredential',
    sdk: 'vaults.credentials.delete',
    method: 'DELETE',
    path: '/v1/vaults/:vault_id/credentials/:credential_id',
    summary: 'Delete a credential',
    params: credentialParams,
    responses: { 200: object('deletion') },
  }),
  archiveCredential: op({
    id: 'maArchiveCredential',
    sdk: 'vaults.credentials.archive',
    method: 'POST',
    path: '/v1/vaults/:vault_id/credentials/:credential_id/archive',
    summary: 'Archive a credential',
    params: credentialParams,
    responses: { 200: object('credential') },
  }),
} as const;

/** Resources of the SDK Workcell does not serve: every method answers 400 naming the feature. */
export const UNSUPPORTED_RESOURCES: readonly { path: string; feature: string }[] = [
  { path: '/v1/skills', feature: 'skills' },
  { path: '/v1/memory_stores', feature: 'memory stores' },
  { path: '/v1/deployments', feature: 'deployments' },
  { path: '/v1/deployment_runs', feature: 'deployments' },
  { path: '/v1/sessions/:session_id/resources', feature: 'session resources' },
  { path: '/v1/sessions/:session_id/threads', feature: 'multiagent session threads' },
  { path: '/v1/environments/:environment_id/work', feature: 'self-hosted environment work' },
  {
    path: '/v1/vaults/:vault_id/credentials/:credential_id/mcp_oauth_validate',
    feature: 'mcp_oauth credentials',
  },
];

/** The path parameters of a refusal route (`*`: the rest of the path). */
function pathParams(path: string): z.ZodObject {
  const names = [...path.matchAll(/:([a-z_]+)/g)].map((m) => m[1] as string);
  if (path.endsWith('*')) names.push('*');
  return z.object(Object.fromEntries(names.map((n) => [n, z.string()])));
}

const REFUSED: Readonly<Record<number, Response>> = {
  400: { description: '`invalid_request_error` naming the unsupported feature' },
};

/** Every refusal route (each path and its sub-paths, every method). */
export const UNSUPPORTED_OPERATIONS: readonly ManagedAgentsOperation[] =
  UNSUPPORTED_RESOURCES.flatMap(({ path, feature }) =>
    (path.endsWith('mcp_oauth_validate') ? [path] : [path, `${path}/*`]).flatMap((p) =>
      (['GET', 'POST', 'DELETE'] as const).map((method) =>
        op({
          id: `maUnsupported${method}${p.replace(/[^A-Za-z]/g, '_')}`,
          sdk: null,
          method,
          path: p,
          summary: `Not served: ${feature}`,
          ...(p.includes(':') || p.endsWith('*') ? { params: pathParams(p) } : {}),
          responses: REFUSED,
        }),
      ),
    ),
  );

export const MANAGED_AGENTS_OPERATIONS: readonly ManagedAgentsOperation[] = [
  ...Object.values(maOps),
  ...UNSUPPORTED_OPERATIONS,
];

/** Whether a request URL belongs to the Managed Agents API (authenticated by `x-api-key` too). */
export function isManagedAgentsUrl(url: string): boolean {
  return /^\/v1\/(agents|environments|sessions|vaults|skills|memory_stores|deployments|deployment_runs)(\/|\?|$)/.test(
    url,
  );
}
