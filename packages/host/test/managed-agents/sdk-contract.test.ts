import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { maOps } from '../../src/managed-agents/operations.js';

type Call = (c: Anthropic) => Promise<unknown>;

const A = 'agent_1';
const E = 'env_1';
const S = 'sesn_1';
const V = 'vlt_1';
const C = 'vcrd_1';

/** How each operation Workcell serves is called through the pinned SDK. */
const CALLS: Readonly<Record<string, Call>> = {
  'agents.create': (c) => c.beta.agents.create({ name: 'a', model: 'm' }),
  'agents.list': (c) => c.beta.agents.list(),
  'agents.retrieve': (c) => c.beta.agents.retrieve(A),
  'agents.update': (c) => c.beta.agents.update(A, { name: 'b' }),
  'agents.archive': (c) => c.beta.agents.archive(A),
  'agents.versions.list': (c) => c.beta.agents.versions.list(A),
  'environments.create': (c) => c.beta.environments.create({ name: 'e' }),
  'environments.list': (c) => c.beta.environments.list(),
  'environments.retrieve': (c) => c.beta.environments.retrieve(E),
  'environments.update': (c) => c.beta.environments.update(E, { name: 'f' }),
  'environments.delete': (c) => c.beta.environments.delete(E),
  'environments.archive': (c) => c.beta.environments.archive(E),
  'sessions.create': (c) => c.beta.sessions.create({ agent: A, environment_id: E }),
  'sessions.list': (c) => c.beta.sessions.list(),
  'sessions.retrieve': (c) => c.beta.sessions.retrieve(S),
  'sessions.update': (c) => c.beta.sessions.update(S, { title: 't' }),
  'sessions.delete': (c) => c.beta.sessions.delete(S),
  'sessions.archive': (c) => c.beta.sessions.archive(S),
  'sessions.events.list': (c) => c.beta.sessions.events.list(S),
  'sessions.events.send': (c) => c.beta.sessions.events.send(S, { events: [] }),
  'sessions.events.stream': (c) => c.beta.sessions.events.stream(S),
  'vaults.create': (c) => c.beta.vaults.create({ display_name: 'v' }),
  'vaults.list': (c) => c.beta.vaults.list(),
  'vaults.retrieve': (c) => c.beta.vaults.retrieve(V),
  'vaults.update': (c) => c.beta.vaults.update(V, { display_name: 'w' }),
  'vaults.delete': (c) => c.beta.vaults.delete(V),
  'vaults.archive': (c) => c.beta.vaults.archive(V),
  'vaults.credentials.create': (c) =>
    c.beta.vaults.credentials.create(V, {
      auth: { type: 'static_bearer', token: 't', mcp_server_url: 'https://x/' },
    }),
  'vaults.credentials.list': (c) => c.beta.vaults.credentials.list(V),
  'vaults.credentials.retrieve': (c) => c.beta.vaults.credentials.retrieve(C, { vault_id: V }),
  'vaults.credentials.update': (c) => c.beta.vaults.credentials.update(C, { vault_id: V }),
  'vaults.credentials.delete': (c) => c.beta.vaults.credentials.delete(C, { vault_id: V }),
  'vaults.credentials.archive': (c) => c.beta.vaults.credentials.archive(C, { vault_id: V }),
};

const PARAMS: Readonly<Record<string, string>> = {
  agent_id: A,
  environment_id: E,
  session_id: S,
  vault_id: V,
  credential_id: C,
};

/** The method and path the SDK sends for `call`, captured by its `fetch`. */
async function sent(call: Call): Promise<{ method: string; path: string; beta: string | null }> {
  let seen: { method: string; path: string; beta: string | null } | null = null;
  const client = new Anthropic({
    apiKey: 'k',
    baseURL: 'http://workcell.invalid',
    maxRetries: 0,
    fetch: async (url: string | URL | Request, init?: RequestInit) => {
      const headers = new Headers(init?.headers);
      seen = {
        method: init?.method ?? 'GET',
        path: new URL(String(url)).pathname,
        beta: headers.get('anthropic-beta'),
      };
      const sse = String(url).includes('/events/stream');
      return new Response(sse ? '' : '{"data": [], "next_page": null}', {
        status: 200,
        headers: { 'content-type': sse ? 'text/event-stream' : 'application/json' },
      });
    },
  });
  await call(client);
  if (!seen) throw new Error('the SDK sent nothing');
  return seen;
}

describe('the Managed Agents operations against the pinned SDK', () => {
  it('names an SDK call for every operation served, and no other', () => {
    const served = Object.values(maOps).map((o) => o.sdk);
    expect([...served].sort()).toEqual(Object.keys(CALLS).sort());
  });

  it.each(Object.values(maOps).map((o) => [o.sdk, o] as const))(
    '%s sends the method and path Workcell serves',
    async (sdk, operation) => {
      const call = CALLS[sdk];
      expect(call).toBeDefined();
      const got = await sent(call as Call);
      const path = operation.path.replace(
        /:([a-z_]+)/g,
        (_m, name: string) => PARAMS[name] ?? name,
      );
      expect({ method: got.method, path: got.path }).toEqual({ method: operation.method, path });
      expect(got.beta).toContain('managed-agents-2026-04-01');
    },
  );
});
