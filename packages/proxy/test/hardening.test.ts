import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canonicalHost,
  CredentialProxy,
  EMPTY_POLICY,
  parseCidrList,
  parseEgressPatterns,
  resolveChecked,
  type EgressPolicy,
} from '../src/index.js';
import { parseCidr, type Cidr } from '../src/net/cidr.js';
import {
  captureLogger,
  rawExchange,
  secretHits,
  startProxy,
  startUpstream,
  statusOf,
  type Upstream,
} from './helpers.js';

let upstream: Upstream;

beforeAll(async () => {
  upstream = await startUpstream((_req, res) => res.end('ok'), '127.0.0.2');
});

afterAll(async () => {
  await upstream.close();
  expect(secretHits()).toEqual([]);
});

function policy(allow: string, allowPrivate: string): EgressPolicy {
  return {
    allow: parseEgressPatterns(allow, 'WORKCELL_EGRESS_ALLOW'),
    deny: [],
    allowPrivate: parseCidrList(allowPrivate, 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
  };
}

describe('ports are strict decimal without a leading zero', () => {
  it('answers 400 to :0443 in CONNECT, absolute-form and Host, and refuses it in a pattern', async () => {
    const harness = await startProxy({
      resolve: async () => ['127.0.0.2'],
      policy: policy(`good.example:${upstream.port}`, '127.0.0.2/32'),
    });
    try {
      const padded = `0${upstream.port}`;
      for (const raw of [
        `CONNECT good.example:${padded} HTTP/1.1\r\nHost: good.example:${padded}\r\n\r\n`,
        `GET http://good.example:${padded}/ HTTP/1.1\r\nHost: good.example:${padded}\r\n\r\n`,
        `GET http://good.example:${upstream.port}/ HTTP/1.1\r\nHost: good.example:${padded}\r\n\r\n`,
        `CONNECT good.example:+${upstream.port} HTTP/1.1\r\n\r\n`,
      ]) {
        expect(statusOf(await rawExchange(harness.socketPath, raw, 300)), raw).toBe(400);
      }
      expect(upstream.requests).toEqual([]);
    } finally {
      await harness.close();
    }
    expect(() => parseEgressPatterns('api.example.org:0443', 'WORKCELL_EGRESS_ALLOW')).toThrow(
      /WORKCELL_EGRESS_ALLOW/,
    );
  });
});

describe('WORKCELL_EGRESS_ALLOW_PRIVATE never unlocks metadata, host or bridge addresses by a range', () => {
  const bridges: Cidr[] = [parseCidr('172.17.0.0/16') as Cidr];
  const check = (answer: string, allowPrivate: string, local: string[] = []) =>
    resolveChecked(canonicalHost('svc.example'), policy('svc.example', allowPrivate), {
      resolve: async () => [answer],
      localAddresses: () => local,
      bridgeNetworks: () => bridges,
      timeoutMs: 1_000,
    });

  it.each([
    ['169.254.169.254', '169.254.0.0/16', []],
    ['::ffff:169.254.169.254', '169.254.0.0/16', []],
    ['fd00:ec2::254', 'fd00::/16', []],
    ['100.100.100.200', '100.100.0.0/16', []],
    ['168.63.129.16', '168.63.0.0/16', []],
    ['10.0.2.15', '10.0.0.0/16', ['10.0.2.15']],
    ['172.17.0.5', '172.17.0.0/16', []],
  ])(
    '%s stays refused under %s and is allowed when named exactly',
    async (address, range, local) => {
      const refused = await check(address, range, local);
      expect(refused).toMatchObject({ ok: false, reason: 'private-address' });
      expect(refused.ok ? '' : refused.message).toMatch(/named exactly/);
      expect(refused.ok ? '' : refused.message).not.toContain(address);
      const exact = address.includes('::ffff:') ? address.replace('::ffff:', '') : address;
      expect(await check(address, exact, local)).toMatchObject({ ok: true });
    },
  );

  it('a range still unlocks an ordinary private address', async () => {
    expect(await check('10.1.2.3', '10.1.0.0/16')).toMatchObject({ ok: true });
    expect(await check('10.2.2.3', '10.1.0.0/16')).toMatchObject({ ok: false });
  });

  it('refuses ranges wider than /16 at start-up', () => {
    expect(() => parseCidrList('10.0.0.0/15', 'WORKCELL_EGRESS_ALLOW_PRIVATE')).toThrow(
      /too broad \(at most \/16\)/,
    );
    expect(() => parseCidrList('172.16.0.0/12', 'WORKCELL_EGRESS_ALLOW_PRIVATE')).toThrow(
      /too broad/,
    );
  });
});

describe('narrowing a policy', () => {
  it('closes the open tunnels the new policy refuses and keeps the others', async () => {
    const second = await startUpstream((_req, res) => res.end('ok'), '127.0.0.2');
    const current = {
      value: policy(`a.example:${upstream.port},b.example:${second.port}`, '127.0.0.2/32'),
    };
    const harness = await startProxy({ resolve: async () => ['127.0.0.2'] });
    harness.listener.setPolicy(() => current.value);
    const open = async (target: string): Promise<Socket> => {
      const socket = connect(harness.socketPath);
      socket.on('error', () => undefined);
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
      await new Promise<void>((resolve, reject) => {
        socket.once('data', (c: Buffer) =>
          c.toString().startsWith('HTTP/1.1 200') ? resolve() : reject(new Error(c.toString())),
        );
      });
      return socket;
    };
    try {
      const a = await open(`a.example:${upstream.port}`);
      const b = await open(`b.example:${second.port}`);
      const aClosed = new Promise<void>((resolve) => a.once('close', () => resolve()));
      current.value = policy(`b.example:${second.port}`, '127.0.0.2/32');
      expect(harness.listener.revalidate()).toBe(1);
      await aClosed;
      expect(b.destroyed).toBe(false);
      b.write('GET / HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n');
      const reply = await new Promise<string>((resolve) => {
        let out = '';
        b.on('data', (c: Buffer) => (out += c.toString()));
        b.once('close', () => resolve(out));
      });
      expect(reply).toMatch(/^HTTP\/1.1 200/);
    } finally {
      await harness.close();
      await second.close();
    }
  });
});

describe('the socket directory', () => {
  it('refuses to listen where another user could swap the socket path', async () => {
    const proxy = new CredentialProxy({ logger: captureLogger(), audit: () => undefined });
    const dir = mkdtempSync(join(tmpdir(), 'workcell-sockdir-'));
    try {
      chmodSync(dir, 0o777);
      await expect(
        proxy.listen(
          join(dir, 'egress.sock'),
          { workspaceId: 'w', containerId: null },
          () => EMPTY_POLICY,
        ),
      ).rejects.toThrow(/writable by other users/);
      chmodSync(dir, 0o755);
      if (process.getuid?.() === 0) {
        chownSync(dir, 1000, 1000);
        await expect(
          proxy.listen(
            join(dir, 'egress.sock'),
            { workspaceId: 'w', containerId: null },
            () => EMPTY_POLICY,
          ),
        ).rejects.toThrow(/owned by uid 1000/);
        chownSync(dir, 0, 0);
      }
      const listener = await proxy.listen(
        join(dir, 'egress.sock'),
        { workspaceId: 'w', containerId: null },
        () => EMPTY_POLICY,
      );
      await listener.close();
    } finally {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
