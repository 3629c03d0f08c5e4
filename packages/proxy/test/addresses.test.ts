import { describe, expect, it } from 'vitest';
import {
  canonicalHost,
  classifyAddress,
  parseAuthority,
  parseCidrList,
  parseEgressPatterns,
  parseIpAddress,
  resolveChecked,
  type EgressPolicy,
  type IpAddress,
  type Resolver,
} from '../src/index.js';

function ip(text: string): IpAddress {
  const parsed = parseIpAddress(text);
  if (!parsed) throw new Error(`not an address: ${text}`);
  return parsed;
}

describe('host canonicalisation', () => {
  it.each([
    ['2852039166', '169.254.169.254'],
    ['0xa9fea9fe', '169.254.169.254'],
    ['0xa9.0xfe.0xa9.0xfe', '169.254.169.254'],
    ['0251.0376.0251.0376', '169.254.169.254'],
    ['0251.254.43518', '169.254.169.254'],
    ['169.16689662', '169.254.169.254'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['017700000001', '127.0.0.1'],
    ['0', '0.0.0.0'],
    ['0x', '0.0.0.0'],
    ['127.0.0.1.', '127.0.0.1'],
    ['[::1]', '::1'],
    ['[0:0:0:0:0:0:0:1]', '::1'],
    ['[::ffff:169.254.169.254]', '169.254.169.254'],
    ['[::FFFF:a9fe:a9fe]', '169.254.169.254'],
    ['[0:0:0:0:0:ffff:127.0.0.1]', '127.0.0.1'],
    ['[::127.0.0.1]', '::7f00:1'],
    ['[64:ff9b::169.254.169.254]', '64:ff9b::a9fe:a9fe'],
    ['[2001:DB8:0:0:1:0:0:1]', '2001:db8::1:0:0:1'],
    ['[fe80:0:0:0::1]', 'fe80::1'],
  ])('%s is the IP %s', (raw, value) => {
    expect(canonicalHost(raw)).toMatchObject({ kind: 'ip', value });
  });

  it.each([
    ['Example.ORG', 'example.org'],
    ['example.org.', 'example.org'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['a-b.c0.example', 'a-b.c0.example'],
    ['localhost', 'localhost'],
  ])('%s is the name %s', (raw, value) => {
    expect(canonicalHost(raw)).toEqual({ kind: 'name', value, address: null });
  });

  it.each([
    ['', 'empty'],
    ['.', 'empty'],
    ['example.org..', 'label'],
    ['allowed.example@127.0.0.1', 'userinfo'],
    ['exa%6dple.org', 'percent'],
    ['[fe80::1%25eth0]', 'zone'],
    ['[fe80::1%eth0]', 'zone'],
    ['exa mple.org', 'space'],
    ['example.org\r\n', 'control'],
    ['exa\tmple.org', 'control'],
    ['example.org\0', 'control'],
    ['bücher.example', 'non-ASCII'],
    ['xn--zz.example', 'punycode'],
    ['256.1.1.1', 'IPv4'],
    ['1.2.3.4.5', 'IPv4'],
    ['1.2.3.0x100', 'IPv4'],
    ['4294967296', 'IPv4'],
    ['08.1.1.1', 'IPv4'],
    ['example.123', 'IPv4'],
    ['[::1', 'IPv6'],
    ['[1:2:3:4:5:6:7:8:9]', 'IPv6'],
    ['[1::2::3]', 'IPv6'],
    ['[::1.2.3]', 'IPv6'],
    ['under_score.example', 'label'],
    ['-lead.example', 'label'],
    ['a\\b.example', 'path'],
    ['a/b.example', 'path'],
  ])('refuses %j (%s)', (raw) => {
    expect(() => canonicalHost(raw)).toThrow();
  });

  it('parses authorities with and without ports, refusing userinfo and bad ports', () => {
    expect(parseAuthority('Example.org:8443', null)).toMatchObject({
      host: { value: 'example.org' },
      port: 8443,
    });
    expect(parseAuthority('example.org', 80)).toMatchObject({ port: 80 });
    expect(parseAuthority('[::1]:80', null)).toMatchObject({
      host: { kind: 'ip', value: '::1' },
      port: 80,
    });
    expect(parseAuthority('2852039166:80', null)).toMatchObject({
      host: { value: '169.254.169.254' },
      port: 80,
    });
    expect(() => parseAuthority('example.org', null)).toThrow(/port/);
    expect(() => parseAuthority('example.org:0', null)).toThrow(/port/);
    expect(() => parseAuthority('example.org:65536', null)).toThrow(/port/);
    expect(() => parseAuthority('example.org:+80', null)).toThrow(/port/);
    expect(() => parseAuthority('example.org:', 80)).toThrow(/port/);
    expect(() => parseAuthority('allowed.example@127.0.0.1:80', null)).toThrow(/userinfo/);
    expect(() => parseAuthority('::1:80', null)).toThrow(/brackets/);
    expect(() => parseAuthority('[::1]x:80', null)).toThrow();
  });
});

describe('address classification', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['168.63.129.16', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.17.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fec0::1', 'private'],
    ['100.64.0.1', 'carrier-grade-nat'],
    ['100.127.255.254', 'carrier-grade-nat'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:a00:1::1', 'private'],
    ['fe80::5efe:a9fe:a9fe', 'link-local'],
    ['2600:1f18::200:5efe:a00:1', 'private'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'reserved'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['100.128.0.1', 'public'],
    ['2606:4700::1111', 'public'],
    ['64:ff9b::808:808', 'public'],
  ])('%s is %s', (text, cls) => {
    expect(classifyAddress(ip(text))).toBe(cls);
  });

  it("one of this host's own interface addresses is refused even when public", () => {
    expect(classifyAddress(ip('203.0.114.7'), new Set(['203.0.114.7']))).toBe('local-interface');
    expect(classifyAddress(ip('64:ff9b::cb00:7207'), new Set(['203.0.114.7']))).toBe(
      'local-interface',
    );
  });
});

describe('resolve, check, dial the checked address', () => {
  const base: EgressPolicy = {
    allow: parseEgressPatterns('*.example.org', 'A'),
    deny: [],
    allowPrivate: [],
  };
  const resolver =
    (answers: Record<string, string[]>): Resolver =>
    async (host) => {
      const found = answers[host];
      if (!found) throw Object.assign(new Error('NXDOMAIN'), { code: 'ENOTFOUND' });
      return found;
    };
  const options = (answers: Record<string, string[]>, local: string[] = []) => ({
    resolve: resolver(answers),
    localAddresses: () => local,
    bridgeNetworks: () => [],
    timeoutMs: 1_000,
  });

  it('answers every address when all are public', async () => {
    const result = await resolveChecked(
      canonicalHost('a.example.org'),
      base,
      options({ 'a.example.org': ['93.184.216.34', '2606:2800:220:1::1'] }),
    );
    expect(result).toMatchObject({ ok: true });
    expect(result.ok && result.addresses.map((a) => a.text)).toEqual([
      '93.184.216.34',
      '2606:2800:220:1::1',
    ]);
  });

  it('refuses when any address is private, without the address in the message', async () => {
    const result = await resolveChecked(
      canonicalHost('a.example.org'),
      base,
      options({ 'a.example.org': ['93.184.216.34', '127.0.0.1'] }),
    );
    expect(result).toMatchObject({ ok: false, reason: 'private-address', address: '127.0.0.1' });
    expect(result.ok ? '' : result.message).not.toContain('127.0.0.1');
    expect(result.ok ? '' : result.message).toContain('loopback');
  });

  it('refuses names that resolve to IPv4-mapped or NAT64-embedded metadata addresses', async () => {
    for (const answer of ['::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe']) {
      const result = await resolveChecked(
        canonicalHost('a.example.org'),
        base,
        options({ 'a.example.org': [answer] }),
      );
      expect(result).toMatchObject({ ok: false, reason: 'private-address' });
    }
  });

  it("refuses a name resolving to one of the host's own addresses", async () => {
    const result = await resolveChecked(
      canonicalHost('a.example.org'),
      base,
      options({ 'a.example.org': ['198.51.99.9'] }, ['198.51.99.9', 'fe80::1%eth0']),
    );
    expect(result).toMatchObject({ ok: false, reason: 'private-address' });
  });

  it('allows private addresses inside WORKCELL_EGRESS_ALLOW_PRIVATE only', async () => {
    const p = { ...base, allowPrivate: parseCidrList('10.1.0.0/16', 'P') };
    expect(
      await resolveChecked(
        canonicalHost('a.example.org'),
        p,
        options({ 'a.example.org': ['10.1.2.3'] }),
      ),
    ).toMatchObject({ ok: true });
    expect(
      await resolveChecked(
        canonicalHost('a.example.org'),
        p,
        options({ 'a.example.org': ['10.2.0.1'] }),
      ),
    ).toMatchObject({ ok: false });
    expect(
      await resolveChecked(
        canonicalHost('a.example.org'),
        p,
        options({ 'a.example.org': ['::ffff:10.1.2.3'] }),
      ),
    ).toMatchObject({ ok: true });
  });

  it('fails closed on NXDOMAIN, an empty answer, garbage and a resolver that never answers', async () => {
    expect(
      await resolveChecked(canonicalHost('gone.example.org'), base, options({})),
    ).toMatchObject({ ok: false, reason: 'resolve-failed' });
    expect(
      await resolveChecked(canonicalHost('a.example.org'), base, options({ 'a.example.org': [] })),
    ).toMatchObject({ ok: false, reason: 'resolve-failed' });
    expect(
      await resolveChecked(
        canonicalHost('a.example.org'),
        base,
        options({ 'a.example.org': ['not-an-ip'] }),
      ),
    ).toMatchObject({ ok: false, reason: 'resolve-failed' });
    const hanging = {
      resolve: () => new Promise<string[]>(() => undefined),
      localAddresses: () => [],
      bridgeNetworks: () => [],
      timeoutMs: 50,
    };
    expect(await resolveChecked(canonicalHost('a.example.org'), base, hanging)).toMatchObject({
      ok: false,
      reason: 'resolve-failed',
    });
  });

  it('checks an IP literal as is, without resolving', async () => {
    const never: Resolver = () => Promise.reject(new Error('must not resolve'));
    const p = { ...base, allowPrivate: parseCidrList('10.1.0.0/16', 'P') };
    expect(
      await resolveChecked(canonicalHost('10.1.0.5'), p, {
        resolve: never,
        localAddresses: () => [],
        bridgeNetworks: () => [],
        timeoutMs: 100,
      }),
    ).toMatchObject({ ok: true });
    expect(
      await resolveChecked(canonicalHost('0xa9fea9fe'), p, {
        resolve: never,
        localAddresses: () => [],
        bridgeNetworks: () => [],
        timeoutMs: 100,
      }),
    ).toMatchObject({
      ok: false,
      reason: 'private-address',
    });
  });
});
