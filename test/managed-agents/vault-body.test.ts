import Anthropic from '@anthropic-ai/sdk';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../support/host.js';
import { makeTestCa, type TestCa } from '../support/test-ca.js';
import { sdkFor, streamUntil, userText } from './support.js';

const IMAGE = process.env.WORKCELL_IMAGE ?? 'workcell/workspace:0.1.0';

/**
 * A vault's environment-variable credential with `injection_location: {body: true}`: the proxy
 * writes the value into a request body sent to the credential's host (a loopback HTTPS server
 * with a test CA's certificate), and the container only ever holds the placeholder. With
 * `header: false` the placeholder in a request header is forwarded as it stands.
 */
describe('Managed Agents vault credentials injected into request bodies', () => {
  const value = `body-real-${randomBytes(18).toString('hex')}`;
  let ca: TestCa;
  let upstream: Server;
  let port: number;
  const bodies: string[] = [];
  const tokenHeaders: (string | undefined)[] = [];
  let host: TestHost;

  beforeAll(async () => {
    ca = makeTestCa(['localhost', '127.0.0.1']);
    // Records each body and echoes it back, as an API that reflects its input would.
    upstream = createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        bodies.push(body);
        tokenHeaders.push(req.headers['x-form-token'] as string | undefined);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ echo: body, length: req.headers['content-length'] ?? null }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    port = (upstream.address() as AddressInfo).port;
    host = await startTestHost({
      image: IMAGE,
      egressAllow: `localhost:${port}`,
      egressAllowPrivate: '127.0.0.1',
      secretsKey: randomBytes(32).toString('base64'),
      upstreamCaFile: ca.caFile,
    });
  });
  afterAll(async () => {
    await host?.close();
    upstream?.close();
    ca?.remove();
  });

  /**
   * A session whose environment reaches the upstream and whose vault holds the token as
   * `FORM_TOKEN`, substituted where `injection` says (checked as stored).
   */
  async function sessionWithToken(
    name: string,
    injection: { header?: boolean; body?: boolean },
  ): Promise<{ client: Anthropic; session: { id: string } }> {
    const client = sdkFor(host, host.token);
    const environment = await client.beta.environments.create({
      name,
      config: {
        type: 'cloud',
        networking: { type: 'limited', allowed_hosts: [`localhost:${port}`] },
      },
    });
    const vault = await client.beta.vaults.create({ display_name: `${name} secrets` });
    const credential = await client.beta.vaults.credentials.create(vault.id, {
      display_name: `${name} token`,
      auth: {
        type: 'environment_variable',
        secret_name: 'FORM_TOKEN',
        secret_value: value,
        networking: { type: 'limited', allowed_hosts: ['localhost'] },
        injection_location: injection,
      },
    });
    expect(credential.auth).toMatchObject({ injection_location: injection });
    const agent = await client.beta.agents.create({
      name,
      model: 'claude-sonnet-4-6',
      tools: [{ type: 'agent_toolset_20260401' }],
    });
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: environment.id,
      vault_ids: [vault.id],
    });
    return { client, session };
  }

  it('the upstream receives the value in the body; the container sees only the placeholder', async () => {
    const { client, session } = await sessionWithToken('body', { body: true });

    const command = [
      'unset NO_PROXY no_proxy',
      'echo "token=$FORM_TOKEN"',
      `curl -sS -H 'Content-Type: application/json' --data "{\\"token\\":\\"$FORM_TOKEN\\"}" https://localhost:${port}/api/form`,
    ].join('; ');
    const events = await streamUntil(client, session.id, () =>
      client.beta.sessions.events.send(session.id, {
        events: [
          userText(`MOCK:{"tool": "bash", "input": {"command": ${JSON.stringify(command)}}}`),
        ],
      }),
    );
    const result = JSON.stringify(events.find((e) => e.type === 'agent.tool_result'));
    const placeholder = /token=(wcs_[A-Za-z0-9]{32})/.exec(result)?.[1];
    expect(placeholder, result).toBeDefined();
    // The upstream got the value, framed by its length; the echo came back as the placeholder.
    const expected = `{"token":"${value}"}`;
    expect(bodies).toContain(expected);
    expect(result).toContain(`{\\\\\\"token\\\\\\":\\\\\\"${placeholder ?? ''}\\\\\\"}`);
    expect(result).toContain(`\\"length\\":\\"${Buffer.byteLength(expected)}\\"`);
    expect(result).not.toContain(value);

    const history = [];
    for await (const e of client.beta.sessions.events.list(session.id)) history.push(e);
    expect(JSON.stringify(history)).not.toContain(value);
    expect(host.logs.join('\n')).not.toContain(value);
  });

  it('with injection_location.header false, the placeholder in a header reaches the host as it stands, never the value', async () => {
    const { client, session } = await sessionWithToken('body-only', { header: false, body: true });
    bodies.length = 0;
    tokenHeaders.length = 0;

    const command = [
      'unset NO_PROXY no_proxy',
      'echo "token=$FORM_TOKEN"',
      `curl -sS -H "X-Form-Token: $FORM_TOKEN" -H 'Content-Type: application/json' --data "{\\"token\\":\\"$FORM_TOKEN\\"}" https://localhost:${port}/api/form`,
    ].join('; ');
    const events = await streamUntil(client, session.id, () =>
      client.beta.sessions.events.send(session.id, {
        events: [
          userText(`MOCK:{"tool": "bash", "input": {"command": ${JSON.stringify(command)}}}`),
        ],
      }),
    );
    const result = JSON.stringify(events.find((e) => e.type === 'agent.tool_result'));
    const placeholder = /token=(wcs_[A-Za-z0-9]{32})/.exec(result)?.[1];
    expect(placeholder, result).toBeDefined();
    // One request: its header kept the placeholder, its body got the value.
    expect(tokenHeaders).toEqual([placeholder]);
    expect(bodies).toEqual([`{"token":"${value}"}`]);
    expect(result).not.toContain(value);
    expect(host.logs.join('\n')).not.toContain(value);
  });

  it("puts a credential's value in both locations unless told, and never in neither", async () => {
    const client = sdkFor(host, host.token);
    const refused = async (p: Promise<unknown>, word: string): Promise<void> => {
      const err = await p.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as Error).message).toContain(word);
    };
    const vault = await client.beta.vaults.create({ display_name: 'locations' });
    const credential = (location?: { header?: boolean; body?: boolean }) =>
      client.beta.vaults.credentials.create(vault.id, {
        auth: {
          type: 'environment_variable',
          secret_name: `TOKEN_${Math.random().toString(36).slice(2, 8).toUpperCase()}`,
          secret_value: 'value-of-the-token',
          networking: { type: 'limited', allowed_hosts: ['api.example.org'] },
          ...(location ? { injection_location: location } : {}),
        },
      });
    const both = await credential();
    expect(both.auth).toMatchObject({ injection_location: { header: true, body: true } });
    const headerOnly = await credential({ header: true });
    expect(headerOnly.auth).toMatchObject({ injection_location: { header: true, body: false } });
    await refused(credential({ header: false, body: false }), 'at least one location');
    await refused(credential({}), 'at least one location');
    await refused(
      client.beta.vaults.credentials.update(headerOnly.id, {
        vault_id: vault.id,
        auth: { type: 'environment_variable', injection_location: { header: false } },
      }),
      'at least one location',
    );
    // The refused update changed nothing.
    expect(
      (await client.beta.vaults.credentials.retrieve(headerOnly.id, { vault_id: vault.id })).auth,
    ).toMatchObject({ injection_location: { header: true, body: false } });
  });
});
