import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../support/host.js';
import { sdkFor } from './support.js';

/** Agents (versioned), paging, tenancy, keys and refusals, through the official SDK. */
describe('Managed Agents resources through the official SDK', () => {
  let host: TestHost;
  const otherToken = `tok_other_${Date.now()}`;
  let client: Anthropic;

  beforeAll(async () => {
    host = await startTestHost({
      tokens: { [otherToken]: 'tenant-b' },
      modelsAllowed: 'claude-sonnet-4-6,claude-opus-4-7',
    });
    client = sdkFor(host, host.token);
  });
  afterAll(async () => {
    await host?.close();
  });

  it('keeps every version of an agent and refuses a stale version with 409', async () => {
    const v1 = await client.beta.agents.create({
      name: 'versioned',
      model: 'claude-sonnet-4-6',
      system: 'first',
      metadata: { team: 'a' },
    });
    expect(v1.version).toBe(1);
    const v2 = await client.beta.agents.update(v1.id, {
      version: 1,
      system: 'second',
      metadata: { team: null, owner: 'b' },
    });
    expect(v2).toMatchObject({ id: v1.id, version: 2, system: 'second', metadata: { owner: 'b' } });
    const unchanged = await client.beta.agents.update(v1.id, { version: 2, system: 'second' });
    expect(unchanged.version).toBe(2);
    await expect(
      client.beta.agents.update(v1.id, { version: 1, system: 'third' }),
    ).rejects.toBeInstanceOf(Anthropic.ConflictError);
    expect((await client.beta.agents.retrieve(v1.id)).system).toBe('second');
    expect((await client.beta.agents.retrieve(v1.id, { version: 1 })).system).toBe('first');
    const versions = [];
    for await (const v of client.beta.agents.versions.list(v1.id)) versions.push(v.version);
    expect(versions).toEqual([2, 1]);

    await expect(
      client.beta.agents.create({ name: 'x', model: 'claude-haiku-4-5' }),
    ).rejects.toBeInstanceOf(Anthropic.BadRequestError);

    const archived = await client.beta.agents.archive(v1.id);
    expect(archived.archived_at).not.toBeNull();
    await expect(client.beta.agents.update(v1.id, { system: 'x' })).rejects.toBeInstanceOf(
      Anthropic.ConflictError,
    );
    const listed = [];
    for await (const a of client.beta.agents.list()) listed.push(a.id);
    expect(listed).not.toContain(v1.id);
    const withArchived = [];
    for await (const a of client.beta.agents.list({ include_archived: true }))
      withArchived.push(a.id);
    expect(withArchived).toContain(v1.id);
  });

  it('walks every page of a list', async () => {
    const made: string[] = [];
    for (let i = 0; i < 5; i += 1)
      made.push((await client.beta.vaults.create({ display_name: `v${i}` })).id);
    const first = await client.beta.vaults.list({ limit: 2 });
    expect(first.data).toHaveLength(2);
    expect(first.hasNextPage()).toBe(true);
    const all: string[] = [];
    for await (const v of client.beta.vaults.list({ limit: 2 })) all.push(v.id);
    expect(all).toEqual([...made].reverse());
  });

  it("answers another tenant's ids 404 and a wrong key 401, with Bearer tokens too", async () => {
    const agent = await client.beta.agents.create({ name: 'mine', model: 'claude-sonnet-4-6' });
    const vault = await client.beta.vaults.create({ display_name: 'mine' });
    const other = sdkFor(host, otherToken);
    await expect(other.beta.agents.retrieve(agent.id)).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );
    await expect(other.beta.vaults.retrieve(vault.id)).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );
    await expect(other.beta.vaults.delete(vault.id)).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );
    const otherList = [];
    for await (const a of other.beta.agents.list()) otherList.push(a.id);
    expect(otherList).not.toContain(agent.id);

    const wrong = sdkFor(host, 'tok_not_a_token');
    const err = await wrong.beta.agents.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({
      type: 'error',
      error: { type: 'authentication_error' },
    });

    const bearer = new Anthropic({
      baseURL: host.url,
      authToken: host.token,
      apiKey: null,
      maxRetries: 0,
    });
    expect((await bearer.beta.agents.retrieve(agent.id)).id).toBe(agent.id);
  });

  it('refuses the features it does not serve with 400 naming them', async () => {
    const refused = async (p: Promise<unknown>, word: string): Promise<void> => {
      const err = await p.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as Error).message).toContain(word);
    };
    await refused(
      client.beta.agents.create({
        name: 'x',
        model: 'claude-sonnet-4-6',
        skills: [{ type: 'anthropic', skill_id: 'xlsx' }],
      }),
      'skills',
    );
    await refused(
      client.beta.agents.create({
        name: 'x',
        model: 'claude-sonnet-4-6',
        multiagent: { type: 'coordinator', agents: [{ type: 'self' }] },
      }),
      'multiagent',
    );
    await refused(client.beta.skills.list(), 'skills');
    await refused(client.beta.memoryStores.list(), 'memory stores');
    await refused(
      client.beta.vaults.credentials.create(
        (await client.beta.vaults.create({ display_name: 'o' })).id,
        {
          auth: {
            type: 'mcp_oauth',
            access_token: 't',
            mcp_server_url: 'https://mcp.example.org/',
          },
        },
      ),
      'mcp_oauth',
    );
    // A field no SDK knows, sent by hand: refused naming it.
    const res = await fetch(`${host.url}/v1/agents`, {
      method: 'POST',
      headers: { 'x-api-key': host.token, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', model: 'claude-sonnet-4-6', colour: 'blue' }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      type: string;
      error: { type: string; message: string };
      request_id: string;
    };
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(body.error.message).toContain('colour');
    expect(body.request_id).toMatch(/^req_/);
  });
});
