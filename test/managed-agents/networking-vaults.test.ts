import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../support/host.js';
import { startSecretUpstream, type SecretUpstream } from '../support/secret-upstream.js';
import { makeTestCa, type TestCa } from '../support/test-ca.js';
import { sdkFor, streamUntil, userText } from './support.js';

const IMAGE = process.env.WORKCELL_IMAGE ?? 'workcell/workspace:0.1.0';

/**
 * An environment with limited networking becomes the session's egress policy, and a vault's
 * environment-variable credential a placeholder the proxy swaps for the value toward its hosts.
 */
describe('Managed Agents environments and vaults through the official SDK', () => {
  const value = `real-${randomBytes(18).toString('hex')}`;
  let ca: TestCa;
  let upstream: SecretUpstream;
  let other: Server;
  let otherPort: number;
  let otherHits = 0;
  let host: TestHost;

  beforeAll(async () => {
    ca = makeTestCa(['localhost', '127.0.0.1']);
    upstream = await startSecretUpstream({ key: ca.key, cert: ca.cert, expected: value });
    other = createServer((_req, res) => {
      otherHits += 1;
      res.end('other');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    otherPort = (other.address() as AddressInfo).port;
    host = await startTestHost({
      image: IMAGE,
      egressAllow: `localhost:${upstream.port},localhost:${otherPort}`,
      egressAllowPrivate: '127.0.0.1',
      secretsKey: randomBytes(32).toString('base64'),
      upstreamCaFile: ca.caFile,
    });
  });
  afterAll(async () => {
    await host?.close();
    await upstream?.close();
    other?.close();
    ca?.remove();
  });

  it('reaches an allowed host with the placeholder swapped for the value, and no other host', async () => {
    const client = sdkFor(host, host.token);
    const environment = await client.beta.environments.create({
      name: 'limited',
      config: {
        type: 'cloud',
        networking: { type: 'limited', allowed_hosts: [`localhost:${upstream.port}`] },
      },
    });
    expect(environment.config).toMatchObject({
      networking: { type: 'limited', allowed_hosts: [`localhost:${upstream.port}`] },
    });
    const vault = await client.beta.vaults.create({ display_name: 'team secrets' });
    const credential = await client.beta.vaults.credentials.create(vault.id, {
      display_name: 'api token',
      auth: {
        type: 'environment_variable',
        secret_name: 'API_TOKEN',
        secret_value: value,
        networking: { type: 'limited', allowed_hosts: ['localhost'] },
      },
    });
    expect(credential.id).toMatch(/^vcrd_/);
    expect(JSON.stringify(credential)).not.toContain(value);
    expect(
      JSON.stringify(
        await client.beta.vaults.credentials.retrieve(credential.id, { vault_id: vault.id }),
      ),
    ).not.toContain(value);

    const agent = await client.beta.agents.create({
      name: 'net',
      model: 'claude-sonnet-4-6',
      tools: [{ type: 'agent_toolset_20260401' }],
    });
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: environment.id,
      vault_ids: [vault.id],
    });
    expect(session.vault_ids).toEqual([vault.id]);

    const command = [
      'unset NO_PROXY no_proxy',
      'echo "token=$API_TOKEN"',
      `curl -sS -H "Authorization: Bearer $API_TOKEN" https://localhost:${upstream.port}/api/check`,
      'echo',
      `echo "other=$(curl -s -o /dev/null -w '%{http_code}' http://localhost:${otherPort}/)"`,
    ].join('; ');
    const events = await streamUntil(client, session.id, () =>
      client.beta.sessions.events.send(session.id, {
        events: [
          userText(`MOCK:{"tool": "bash", "input": {"command": ${JSON.stringify(command)}}}`),
        ],
      }),
    );
    const result = JSON.stringify(events.find((e) => e.type === 'agent.tool_result'));
    expect(result).toMatch(/token=wcs_[A-Za-z0-9]{32}/);
    expect(result).toContain('{\\"authorized\\":true}');
    expect(result).toContain('other=403');
    expect(result).not.toContain(value);
    expect(upstream.authorizations).toContain(`Bearer ${value}`);
    expect(otherHits).toBe(0);

    const history = [];
    for await (const e of client.beta.sessions.events.list(session.id)) history.push(e);
    expect(JSON.stringify(history)).not.toContain(value);
    expect(host.logs.join('\n')).not.toContain(value);
  });

  it('refuses unrestricted networking unless the operator allows it, and unserved managers', async () => {
    const client = sdkFor(host, host.token);
    await expect(
      client.beta.environments.create({
        name: 'open',
        config: { type: 'cloud', networking: { type: 'unrestricted' } },
      }),
    ).rejects.toMatchObject({ status: 400, error: { error: { type: 'invalid_request_error' } } });
    for (const manager of ['apt', 'cargo', 'gem', 'go'] as const) {
      const err = await client.beta.environments
        .create({ name: 'pk', config: { type: 'cloud', packages: { [manager]: ['x'] } } })
        .catch((e: unknown) => e as { status: number; message: string });
      expect(err).toMatchObject({ status: 400 });
      expect((err as { message: string }).message).toContain(manager);
    }
    await expect(
      client.beta.environments.create({
        name: 'outside',
        config: {
          type: 'cloud',
          networking: { type: 'limited', allowed_hosts: ['evil.example.com'] },
        },
      }),
    ).rejects.toMatchObject({ status: 400 });
  });
});
