import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadOrCreateCa,
  loadUpstreamTrust,
  parseCidrList,
  parseEgressPatterns,
  type ProxyLimits,
  type SecretBinding,
  type WorkcellCa,
} from '@workcell/proxy';
import { startProxy, type ProxyHarness } from '../../packages/proxy/test/helpers.js';
import {
  startScriptedUpstream,
  viaListener,
  viaTunnel,
  type Outcome,
  type RequestInit,
  type ScriptedUpstream,
} from './hostile-upstream.js';
import { makeTestCa, type TestCa } from './test-ca.js';

/** The four ways an upstream's answer reaches a container. */
export const RELAY_PATHS = ['http', 'anthropic', 'bedrock', 'tls'] as const;
export type RelayPath = (typeof RELAY_PATHS)[number];

/** The host a secret is bound to (its tunnels are terminated) and a host bound to none. */
export const BOUND_HOST = 'bound.example';
export const PLAIN_HOST = 'plain.example';

/**
 * The real `CredentialProxy` with every relay path pointed at scripted upstreams on 127.0.0.2:
 * absolute-form HTTP to `plain.example`, the Anthropic and Bedrock routes to the same plain
 * upstream, and CONNECT to `bound.example` (terminated: a secret is bound to it) to a TLS
 * upstream whose certificate a test CA issued.
 */
export interface HostileProxy {
  readonly harness: ProxyHarness;
  readonly plain: ScriptedUpstream;
  readonly secure: ScriptedUpstream;
  readonly ca: WorkcellCa;
  /** The workspace's secrets as the proxy reads them on each request. */
  readonly secrets: { current: SecretBinding[] };
  /** What a container sends on `path`, plus `extra` headers (a raw list). */
  request(path: RelayPath, extra?: string[], body?: string): RequestInit;
  /** Sends on `path` and answers the outcome within `deadlineMs`. */
  send(path: RelayPath, deadlineMs: number, extra?: string[], body?: string): Promise<Outcome>;
  /** Sends `init` in a fresh tunnel to the bound host. */
  sendInTunnel(init: RequestInit, deadlineMs: number): Promise<Outcome>;
  readonly tunnel: { authority: string; servername: string; caPem: string };
  close(): Promise<void>;
}

export const PLACEHOLDER = 'wcs_boundPlaceholder0123456789abcdefXY';
export const BOUND_VALUE = 'bound-REAL-value-5e1d7c';

export function boundSecret(overrides: Partial<SecretBinding> = {}): SecretBinding {
  return {
    name: 'bound',
    placeholder: PLACEHOLDER,
    hosts: [BOUND_HOST],
    header: null,
    format: null,
    headers: true,
    body: false,
    value: () => BOUND_VALUE,
    ...overrides,
  };
}

export async function startHostileProxy(
  options: { limits?: Partial<ProxyLimits>; handshakeTimeoutMs?: number } = {},
): Promise<HostileProxy> {
  const testCa: TestCa = makeTestCa([BOUND_HOST]);
  const caDir = mkdtempSync(join(tmpdir(), 'workcell-hostile-ca-'));
  const ca = await loadOrCreateCa({
    privateDir: join(caDir, 'private'),
    publicDir: join(caDir, 'public'),
  });
  const plain = await startScriptedUpstream();
  const secure = await startScriptedUpstream({ tls: { key: testCa.key, cert: testCa.cert } });
  const upstreamUrl = new URL(`http://127.0.0.2:${plain.port}`);
  const harness = await startProxy({
    resolve: async () => ['127.0.0.2'],
    anthropic: { upstream: upstreamUrl, apiKey: () => 'sk-ant-hostile-test-key' },
    bedrock: {
      upstream: upstreamUrl,
      region: 'us-east-1',
      credentials: async () => ({
        accessKeyId: 'AKIAHOSTILETEST',
        secretAccessKey: 'hostile-test-secret-access-key',
      }),
      maxBodyBytes: 64 * 1024,
    },
    interception: {
      ca,
      upstreamTrust: await loadUpstreamTrust(testCa.caFile),
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 3_000,
    },
    limits: options.limits,
  });
  harness.policy.current = {
    allow: parseEgressPatterns(
      `${PLAIN_HOST}:${plain.port},${BOUND_HOST}:${secure.port}`,
      'WORKCELL_EGRESS_ALLOW',
    ),
    deny: [],
    allowPrivate: parseCidrList('127.0.0.2/32', 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
  };
  const secrets = { current: [boundSecret()] };
  harness.listener.setSecrets(() => secrets.current);
  const tunnel = {
    authority: `${BOUND_HOST}:${secure.port}`,
    servername: BOUND_HOST,
    caPem: ca.certificatePem,
  };
  const modelBody = JSON.stringify({ model: 'm', max_tokens: 1, messages: [] });

  const request = (path: RelayPath, extra: string[] = [], body?: string): RequestInit => {
    switch (path) {
      case 'http':
        return {
          path: `http://${PLAIN_HOST}:${plain.port}/relay`,
          headers: ['Host', `${PLAIN_HOST}:${plain.port}`, ...extra],
          ...(body === undefined ? {} : { method: 'POST', body }),
        };
      case 'anthropic':
        return {
          method: 'POST',
          path: '/_workcell/anthropic/v1/messages',
          headers: ['Host', 'localhost', 'Content-Type', 'application/json', ...extra],
          body: body ?? modelBody,
        };
      case 'bedrock':
        return {
          method: 'POST',
          path: '/_workcell/bedrock/model/anthropic.claude-test-v1%3A0/invoke',
          headers: ['Host', 'localhost', 'Content-Type', 'application/json', ...extra],
          body: body ?? modelBody,
        };
      case 'tls':
        return {
          path: '/relay',
          headers: ['Host', tunnel.authority, ...extra],
          ...(body === undefined ? {} : { method: 'POST', body }),
        };
    }
  };

  return {
    harness,
    plain,
    secure,
    ca,
    secrets,
    tunnel,
    request,
    send: (path, deadlineMs, extra, body) =>
      path === 'tls'
        ? viaTunnel(harness.socketPath, tunnel, request(path, extra, body), deadlineMs)
        : viaListener(harness.socketPath, request(path, extra, body), deadlineMs),
    sendInTunnel: (init, deadlineMs) => viaTunnel(harness.socketPath, tunnel, init, deadlineMs),
    async close() {
      await harness.close();
      await plain.close();
      await secure.close();
      testCa.remove();
      rmSync(caDir, { recursive: true, force: true });
    },
  };
}
