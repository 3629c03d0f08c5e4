import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CA_FILES,
  loadOrCreateCa,
  loadUpstreamTrust,
  parseCidrList,
  parseEgressPatterns,
  type SecretBinding,
  type WorkcellCa,
} from '../src/index.js';
import { makeTestCa, type TestCa } from '../../../test/support/test-ca.js';
import { captured, proxyRequest, startProxy, type ProxyHarness } from './helpers.js';
import { openTunnel, peerCertificate, startTls, TunnelSession } from './tls-client.js';

/**
 * Secrets through the terminating path, with real TLS on both sides: an HTTPS upstream with
 * its own test CA (made with openssl) on 127.0.0.2 stands in for an API; `api.example` and
 * `other.example` are both served by it; `plain.example` is allowed but bound to no secret.
 */
const VALUE = 'ghp_REAL-secret-value-7c1e9b';
const ROTATED = 'ghp_ROTATED-secret-value-04aa';
const OTHER_VALUE = 'other-REAL-value-5d6e';
const FORM_VALUE = 'form-REAL-value-91c4';

let testCa: TestCa;
let upstream: Server;
let port: number;
let ca: WorkcellCa;
let caDir: string;
const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
let harness: ProxyHarness;
let current = VALUE;

const github: SecretBinding = {
  name: 'github',
  placeholder: 'wcs_githubPlaceholder0123456789abcdef',
  hosts: ['api.example'],
  header: null,
  format: null,
  headers: true,
  body: false,
  value: () => current,
};
const other: SecretBinding = {
  name: 'other',
  placeholder: 'wcs_otherPlaceholder0123456789abcdefg',
  hosts: ['other.example'],
  header: 'authorization',
  headers: true,
  body: false,
  format: 'Bearer {value}',
  value: () => OTHER_VALUE,
};
/** Bound to api.example, written into request bodies only. */
const formOnly: SecretBinding = {
  name: 'form',
  placeholder: 'wcs_formPlaceholder0123456789abcdefghi',
  hosts: ['api.example'],
  header: null,
  format: null,
  headers: false,
  body: true,
  value: () => FORM_VALUE,
};

beforeAll(async () => {
  testCa = makeTestCa(['api.example', 'other.example', 'plain.example']);
  upstream = createServer({ key: testCa.key, cert: testCa.cert }, (req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    if (req.url === '/leak') {
      res.setHeader('x-leak', FORM_VALUE);
      res.end(`the form value is ${FORM_VALUE}`);
      return;
    }
    if (req.url === '/echo') {
      res.setHeader('x-echo', String(req.headers.authorization ?? ''));
      res.end(`you sent ${String(req.headers.authorization ?? '')}`);
      return;
    }
    res.end('ok');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.2', r));
  port = (upstream.address() as AddressInfo).port;
  caDir = mkdtempSync(join(tmpdir(), 'workcell-ca-test-'));
  ca = await loadOrCreateCa({
    privateDir: join(caDir, 'private'),
    publicDir: join(caDir, 'public'),
  });
});

afterAll(async () => {
  upstream.close();
  testCa.remove();
  rmSync(caDir, { recursive: true, force: true });
  const haystack = [...captured.logs, ...captured.audit.map((r) => JSON.stringify(r))];
  for (const v of [VALUE, ROTATED, OTHER_VALUE, FORM_VALUE])
    expect(haystack.filter((h) => h.includes(v))).toEqual([]);
});

async function proxyWith(trust: string | null): Promise<ProxyHarness> {
  const h = await startProxy({
    resolve: async () => ['127.0.0.2'],
    interception: { ca, upstreamTrust: await loadUpstreamTrust(trust) },
  });
  h.policy.current = {
    allow: parseEgressPatterns(
      `api.example:${port},other.example:${port},plain.example:${port}`,
      'WORKCELL_EGRESS_ALLOW',
    ),
    deny: [],
    allowPrivate: parseCidrList('127.0.0.2/32', 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
  };
  h.listener.setSecrets(() => [github, other, formOnly]);
  return h;
}

async function session(host: string): Promise<TunnelSession> {
  const opened = await openTunnel(harness.socketPath, `${host}:${port}`);
  if (!('socket' in opened)) throw new Error(`tunnel refused: ${opened.refused}`);
  return new TunnelSession(await startTls(opened.socket, host, ca.certificatePem), host);
}

beforeEach(async () => {
  seen.length = 0;
  current = VALUE;
  harness = await proxyWith(testCa.caFile);
});

afterEach(async () => {
  await harness.close();
});

describe('the Workcell CA', () => {
  it('keeps its key private to the host and publishes the certificate and a bundle', () => {
    const key = statSync(join(caDir, 'private', CA_FILES.key));
    expect(key.mode & 0o777).toBe(0o600);
    expect(statSync(join(caDir, 'private')).mode & 0o777).toBe(0o700);
    const publicFiles = [CA_FILES.certificate, CA_FILES.bundle].map((f) =>
      readFileSync(join(caDir, 'public', f), 'utf8'),
    );
    for (const text of publicFiles) expect(text).not.toContain('PRIVATE KEY');
    expect(publicFiles[1]).toContain(ca.certificatePem.trim());
    const cert = new X509Certificate(ca.certificatePem);
    expect(cert.ca).toBe(true);
  });

  it('is loaded again, not replaced, on the next start', async () => {
    const again = await loadOrCreateCa({
      privateDir: join(caDir, 'private'),
      publicDir: join(caDir, 'public'),
    });
    expect(again.certificatePem).toBe(ca.certificatePem);
  });
});

describe('substitution toward a secret host', () => {
  it('replaces the placeholder in a header; the upstream sees the value, the container never does', async () => {
    const s = await session('api.example');
    try {
      const reply = await s.fetch('/repos', { Authorization: `token ${github.placeholder}` });
      expect(reply.status).toBe(200);
      expect(seen[0]?.headers.authorization).toBe(`token ${VALUE}`);
      const echo = await s.fetch('/echo', { Authorization: `token ${github.placeholder}` });
      expect(echo.body).toBe(`you sent token ${github.placeholder}`);
      expect(echo.headers['x-echo']).toBe(`token ${github.placeholder}`);
      expect(JSON.stringify(echo)).not.toContain(VALUE);
    } finally {
      s.close();
    }
    const records = await harness.waitForAudit(3);
    const inner = records.filter((r) => r.route === 'tls');
    expect(inner[0]).toMatchObject({
      host: 'api.example',
      decision: 'allow',
      secrets: ['github'],
      status: 200,
    });
    expect(records.find((r) => r.route === 'connect')).toMatchObject({
      reason: 'intercepted',
      status: 200,
    });
  });

  it('replaces the placeholder inside Basic credentials (git over HTTPS)', async () => {
    const s = await session('api.example');
    try {
      const basic = Buffer.from(`x-access-token:${github.placeholder}`).toString('base64');
      const reply = await s.fetch('/repo.git/info/refs', { Authorization: `Basic ${basic}` });
      expect(reply.status).toBe(200);
      const sent = String(seen[0]?.headers.authorization);
      expect(Buffer.from(sent.replace(/^Basic /, ''), 'base64').toString()).toBe(
        `x-access-token:${VALUE}`,
      );
    } finally {
      s.close();
    }
  });

  it('writes the configured header and format', async () => {
    const s = await session('other.example');
    try {
      await s.fetch('/', { Authorization: other.placeholder });
      expect(seen[0]?.headers.authorization).toBe(`Bearer ${OTHER_VALUE}`);
      const wrongHeader = await s.fetch('/', { 'X-Token': other.placeholder });
      expect(wrongHeader.status).toBe(403);
      expect(wrongHeader.headers['x-workcell-egress-denied']).toBe('secret-wrong-header');
      expect(seen).toHaveLength(1);
    } finally {
      s.close();
    }
  });

  it('sends a rotated value with the next request on the same connection', async () => {
    const s = await session('api.example');
    try {
      await s.fetch('/', { Authorization: `token ${github.placeholder}` });
      current = ROTATED;
      await s.fetch('/', { Authorization: `token ${github.placeholder}` });
      expect(seen.map((r) => r.headers.authorization)).toEqual([
        `token ${VALUE}`,
        `token ${ROTATED}`,
      ]);
    } finally {
      s.close();
    }
  });
});

describe('a placeholder anywhere else is refused and recorded', () => {
  it('toward a host the secret is not bound to', async () => {
    const s = await session('other.example');
    try {
      const reply = await s.fetch('/', { Authorization: `token ${github.placeholder}` });
      expect(reply.status).toBe(403);
      expect(reply.headers['x-workcell-egress-denied']).toBe('secret-wrong-host');
      const body = JSON.parse(reply.body) as { error: { message: string } };
      expect(body.error.message).toContain('secret "github"');
    } finally {
      s.close();
    }
    expect(seen).toEqual([]);
    const records = await harness.waitForAudit(2);
    expect(records.find((r) => r.route === 'tls')).toMatchObject({
      decision: 'deny',
      reason: 'secret-wrong-host',
      secrets: ['github'],
    });
  });

  it('in the request target, even toward its own host', async () => {
    const s = await session('api.example');
    try {
      const reply = await s.fetch(`/search?q=${github.placeholder}`);
      expect(reply.status).toBe(403);
      expect(reply.headers['x-workcell-egress-denied']).toBe('secret-in-target');
    } finally {
      s.close();
    }
    expect(seen).toEqual([]);
  });

  it('over plain HTTP, even toward its own host', async () => {
    const reply = await proxyRequest(harness.socketPath, {
      path: `http://api.example:${port}/`,
      headers: { Host: `api.example:${port}`, Authorization: `token ${github.placeholder}` },
    });
    expect(reply.status).toBe(403);
    expect(reply.headers['x-workcell-egress-denied']).toBe('secret-not-over-tls');
  });
});

describe('a secret kept out of headers (headers false)', () => {
  it('leaves its placeholder in every header form toward its own host; the upstream never sees the value', async () => {
    const s = await session('api.example');
    const basic = Buffer.from(`x-access-token:${formOnly.placeholder}`).toString('base64');
    const attempts: Record<string, string>[] = [
      { Authorization: `token ${formOnly.placeholder}` },
      { Authorization: `Basic ${basic}` },
      { 'X-Token': formOnly.placeholder },
      { 'X-Token': formOnly.placeholder.toUpperCase() },
      { 'X-Token': encodeURIComponent(`"${formOnly.placeholder}"`).replace(/_/g, '%5F') },
    ];
    try {
      for (const headers of attempts) {
        const reply = await s.fetch('/', headers);
        expect(reply.status, JSON.stringify(headers)).toBe(200);
      }
      // Beside a header-enabled secret of the same host, which is still replaced.
      await s.fetch('/', {
        Authorization: `token ${github.placeholder}`,
        'X-Token': formOnly.placeholder,
      });
    } finally {
      s.close();
    }
    expect(seen).toHaveLength(attempts.length + 1);
    expect(JSON.stringify(seen)).not.toContain(FORM_VALUE);
    expect(seen[0]?.headers.authorization).toBe(`token ${formOnly.placeholder}`);
    expect(seen[1]?.headers.authorization).toBe(`Basic ${basic}`);
    expect(seen[2]?.headers['x-token']).toBe(formOnly.placeholder);
    expect(seen[5]?.headers).toMatchObject({
      authorization: `token ${VALUE}`,
      'x-token': formOnly.placeholder,
    });
    const records = (await harness.waitForAudit(attempts.length + 2)).filter(
      (r) => r.route === 'tls',
    );
    for (const record of records) {
      expect(record.secrets).not.toContain('form');
      expect(record.suspected).toContainEqual({ secret: 'form', form: 'header' });
    }
  });

  it('leaves its placeholder in a header toward another host and over plain HTTP', async () => {
    const s = await session('other.example');
    try {
      const reply = await s.fetch('/', { 'X-Token': formOnly.placeholder });
      expect(reply.status).toBe(200);
    } finally {
      s.close();
    }
    const plain = await proxyRequest(harness.socketPath, {
      path: `http://api.example:${port}/`,
      headers: { Host: `api.example:${port}`, 'X-Token': formOnly.placeholder },
    });
    // The upstream speaks only TLS, so the plain request fails there, but the proxy sent it.
    expect(plain.headers['x-workcell-egress-denied']).toBeUndefined();
    expect(plain.status).not.toBe(403);
    expect(seen.map((r) => r.headers['x-token'])).toEqual([formOnly.placeholder]);
  });

  it('still scrubs its value from responses of its host', async () => {
    const s = await session('api.example');
    try {
      const reply = await s.fetch('/leak');
      expect(reply.body).toBe(`the form value is ${formOnly.placeholder}`);
      expect(reply.headers['x-leak']).toBe(formOnly.placeholder);
    } finally {
      s.close();
    }
  });
});

describe('hosts without a secret and broken upstreams', () => {
  it('keeps an opaque tunnel for a host with no secret: no certificate is minted for it', async () => {
    const opened = await openTunnel(harness.socketPath, `plain.example:${port}`);
    if (!('socket' in opened)) throw new Error(opened.refused);
    const cert = await peerCertificate(opened.socket, 'plain.example');
    expect(cert.issuer.CN).toBe('Workcell Test Upstream CA');
    const second = await openTunnel(harness.socketPath, `plain.example:${port}`);
    if (!('socket' in second)) throw new Error(second.refused);
    const refused = await startTls(second.socket, 'plain.example', ca.certificatePem).catch(
      (err: Error) => err,
    );
    expect(refused).toBeInstanceOf(Error);
  });

  it('fails closed with a clear message when the upstream certificate does not verify', async () => {
    await harness.close();
    harness = await proxyWith(null);
    const opened = await openTunnel(harness.socketPath, `api.example:${port}`);
    expect('refused' in opened && opened.refused).toMatch(/^HTTP\/1\.1 502 /);
    const text = (opened as { refused: string }).refused;
    expect(text).toContain('upstream_tls_failed');
    expect(text).toContain('could not be verified');
    expect(seen).toEqual([]);
  });
});
