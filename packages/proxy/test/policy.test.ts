import { describe, expect, it } from 'vitest';
import {
  canonicalHost,
  decideHost,
  describePolicy,
  narrowPolicy,
  parseCidrList,
  parseEgressPatterns,
  type EgressPolicy,
  type Transport,
} from '../src/index.js';

function policy(allow: string, deny = ''): EgressPolicy {
  return {
    allow: parseEgressPatterns(allow, 'WORKCELL_EGRESS_ALLOW'),
    deny: parseEgressPatterns(deny, 'WORKCELL_EGRESS_DENY'),
    allowPrivate: [],
  };
}

function allowed(
  p: EgressPolicy,
  host: string,
  port: number,
  transport: Transport = 'connect',
): boolean {
  return decideHost(p, canonicalHost(host), port, transport).allowed;
}

describe('egress pattern parsing', () => {
  const refused: Array<[string, RegExp]> = [
    ['*', /every host/],
    ['*.', /every host/],
    ['*.com', /too broad/],
    ['*.COM.', /too broad/],
    ['*.co.uk', /too broad/],
    ['*.*.example.org', /whole first label/],
    ['a.*.example.org', /whole first label/],
    ['*example.org', /whole first label/],
    ['ex*ample.org', /whole first label/],
    ['https://example.org', /scheme/],
    ['http://example.org:8080', /scheme/],
    ['ftp://example.org', /scheme/],
    ['example.org/path', /path/],
    ['example.org?q=1', /path, query/],
    ['user@example.org', /userinfo/],
    ['exämple.org', /non-ASCII/],
    ['例え.jp', /non-ASCII/],
    ['xn--zz.example.org', /punycode/],
    ['example.org:0', /port/],
    ['example.org:65536', /port/],
    ['example.org:https', /port/],
    ['example.org:', /port/],
    ['2001:db8::1', /brackets/],
    ['*.10.0.0.1', /IP address|invalid/],
    ['exa mple.org', /spaces/],
    ['-bad.example.org', /invalid label/],
    ['bad..example.org', /invalid label/],
    ['%65xample.org', /percent/],
  ];

  it.each(refused)(
    'refuses %s at start-up with a message naming the variable and the pattern',
    (pattern, why) => {
      const parse = (): unknown =>
        parseEgressPatterns(`api.example.org, ${pattern}`, 'WORKCELL_EGRESS_ALLOW');
      expect(parse).toThrow(why);
      expect(parse).toThrow(`WORKCELL_EGRESS_ALLOW: pattern "${pattern}"`);
    },
  );

  it('accepts exact hosts, wildcards, ports, IP literals and punycode', () => {
    const patterns = parseEgressPatterns(
      ' API.Example.org. , *.example.net:8443,10.1.2.3:9000, [2001:DB8::1]:443, xn--bcher-kva.example, ',
      'WORKCELL_EGRESS_ALLOW',
    );
    expect(patterns.map((p) => p.text)).toEqual([
      'api.example.org',
      '*.example.net:8443',
      '10.1.2.3:9000',
      '[2001:db8::1]:443',
      'xn--bcher-kva.example',
    ]);
  });

  it('an empty list is the default deny', () => {
    const p = policy('');
    expect(p.allow).toEqual([]);
    expect(allowed(p, 'example.org', 443)).toBe(false);
  });
});

describe('egress decisions', () => {
  it('*.example.org allows strict subdomains only, not the apex or look-alikes', () => {
    const p = policy('*.example.org');
    expect(allowed(p, 'a.example.org', 443)).toBe(true);
    expect(allowed(p, 'a.b.example.org', 443)).toBe(true);
    expect(allowed(p, 'example.org', 443)).toBe(false);
    expect(allowed(p, 'notexample.org', 443)).toBe(false);
    expect(allowed(p, 'a.example.org.evil.test', 443)).toBe(false);
    expect(allowed(p, 'example.org.a', 443)).toBe(false);
  });

  it('case and one trailing dot never change a decision', () => {
    const p = policy('api.example.org, *.Example.NET');
    for (const host of [
      'api.example.org',
      'API.EXAMPLE.ORG',
      'Api.Example.Org.',
      'api.example.org.',
    ]) {
      expect(allowed(p, host, 443)).toBe(true);
    }
    for (const host of ['x.example.net', 'X.EXAMPLE.NET.', 'x.Example.Net'])
      expect(allowed(p, host, 443)).toBe(true);
    for (const host of ['evil.test', 'EVIL.TEST.', 'example.net.'])
      expect(allowed(p, host, 443)).toBe(false);
    expect(() => canonicalHost('api.example.org..')).toThrow();
  });

  it('a pattern without a port means 443 for CONNECT and 80 for plain HTTP; with a port, that port only', () => {
    const p = policy('plain.example.org, ported.example.org:8080');
    expect(allowed(p, 'plain.example.org', 443, 'connect')).toBe(true);
    expect(allowed(p, 'plain.example.org', 80, 'http')).toBe(true);
    expect(allowed(p, 'plain.example.org', 80, 'connect')).toBe(false);
    expect(allowed(p, 'plain.example.org', 443, 'http')).toBe(false);
    expect(allowed(p, 'plain.example.org', 22, 'connect')).toBe(false);
    expect(allowed(p, 'ported.example.org', 8080, 'connect')).toBe(true);
    expect(allowed(p, 'ported.example.org', 8080, 'http')).toBe(true);
    expect(allowed(p, 'ported.example.org', 443, 'connect')).toBe(false);
  });

  it('deny is checked before allow, names its rule, and without a port covers every port', () => {
    const p = policy('*.example.org, *.example.org:8443', 'secret.example.org');
    const decision = decideHost(p, canonicalHost('SECRET.example.org.'), 8443, 'connect');
    expect(decision).toMatchObject({
      allowed: false,
      reason: 'denied-by-rule',
      rule: 'secret.example.org',
    });
    expect(allowed(p, 'secret.example.org', 443)).toBe(false);
    expect(allowed(p, 'public.example.org', 8443)).toBe(true);
  });

  it('IP-literal destinations are refused unless listed, in any notation', () => {
    const p = policy('example.org');
    for (const host of ['127.0.0.1', '2130706433', '0x7f.1', '[::1]', '[::ffff:127.0.0.1]']) {
      expect(decideHost(p, canonicalHost(host), 443, 'connect')).toMatchObject({
        allowed: false,
        reason: 'ip-literal-not-listed',
      });
    }
    const listed = policy('10.1.2.3:9000');
    expect(allowed(listed, '10.1.2.3', 9000)).toBe(true);
    expect(allowed(listed, '0xa.1.0x203', 9000)).toBe(true);
    expect(allowed(listed, '[::ffff:10.1.2.3]', 9000)).toBe(true);
    expect(allowed(listed, '10.1.2.4', 9000)).toBe(false);
  });

  it('a denial message names the rule or the default deny', () => {
    const p = policy('a.example.org');
    const d = decideHost(p, canonicalHost('b.example.org'), 443, 'connect');
    expect(d).toMatchObject({ allowed: false, reason: 'not-in-allowlist' });
    expect(d.allowed ? '' : d.message).toMatch(/default deny/);
  });
});

describe('private ranges', () => {
  it('parses CIDRs and bare addresses, refusing malformed and over-broad ranges', () => {
    expect(
      parseCidrList(
        '127.0.0.2/32, 10.1.0.0/16, fd00::/16, 192.168.1.7',
        'WORKCELL_EGRESS_ALLOW_PRIVATE',
      ).map((c) => c.text),
    ).toEqual(['127.0.0.2/32', '10.1.0.0/16', 'fd00::/16', '192.168.1.7/32']);
    expect(() => parseCidrList('10.0.0.0/8', 'WORKCELL_EGRESS_ALLOW_PRIVATE')).toThrow(
      /"10.0.0.0\/8" is too broad \(at most \/16\)/,
    );
    expect(() => parseCidrList('0.0.0.0/0', 'WORKCELL_EGRESS_ALLOW_PRIVATE')).toThrow(
      /WORKCELL_EGRESS_ALLOW_PRIVATE: "0.0.0.0\/0" is too broad/,
    );
    expect(() => parseCidrList('::/0', 'WORKCELL_EGRESS_ALLOW_PRIVATE')).toThrow(/too broad/);
    expect(() => parseCidrList('10.0.0.0/33', 'WORKCELL_EGRESS_ALLOW_PRIVATE')).toThrow(
      /not a CIDR/,
    );
    expect(() => parseCidrList('localhost', 'WORKCELL_EGRESS_ALLOW_PRIVATE')).toThrow(
      /"localhost" is not a CIDR/,
    );
  });
});

describe('workspace narrowing', () => {
  const operator = {
    ...policy(
      '*.example.org, api.example.net, mirror.example.com:8080, 10.1.2.3:9000',
      'secret.example.org',
    ),
    allowPrivate: parseCidrList('10.1.0.0/16', 'P'),
  };

  it('keeps hosts inside the operator list, with the operator deny list and private ranges', () => {
    const narrowed = narrowPolicy(operator, [
      'pkg.example.org',
      '*.cdn.example.org',
      'api.example.net',
      'mirror.example.com:8080',
      '10.1.2.3:9000',
    ]);
    expect(describePolicy(narrowed)).toEqual({
      allow: [
        'pkg.example.org',
        '*.cdn.example.org',
        'api.example.net',
        'mirror.example.com:8080',
        '10.1.2.3:9000',
      ],
      deny: ['secret.example.org'],
      allowPrivate: ['10.1.0.0/16'],
    });
    expect(allowed(narrowed, 'pkg.example.org', 443)).toBe(true);
    expect(allowed(narrowed, 'other.example.org', 443)).toBe(false);
  });

  it('refuses a host outside the operator list, naming it', () => {
    const outside = [
      'example.org',
      '*.example.org:8443',
      'api.example.net:8443',
      'mirror.example.com',
      'evil.test',
      '*.example.net',
      '10.1.2.4:9000',
    ];
    for (const host of outside) {
      expect(() => narrowPolicy(operator, [host])).toThrow(
        /outside the operator's WORKCELL_EGRESS_ALLOW/,
      );
    }
    expect(() => narrowPolicy(operator, ['*.com'])).toThrow(/too broad/);
  });

  it('an empty list narrows to the model routes only', () => {
    expect(narrowPolicy(operator, []).allow).toEqual([]);
  });
});
