import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '@workcell/proxy';
import { captured } from '../../packages/proxy/test/helpers.js';
import {
  BOUND_VALUE,
  boundSecret,
  PLACEHOLDER,
  startHostileProxy,
  type HostileProxy,
} from '../support/hostile-proxy.js';
import {
  bytes,
  describeOutcome,
  errorCode,
  eventually,
  okAnswer,
  openTlsTunnel,
  watchUncaught,
  type Outcome,
  type UncaughtWatch,
} from '../support/hostile-upstream.js';

/**
 * Attacks on the writing of a secret's value into request bodies (`body: true`), in-process
 * against the real `CredentialProxy` with a TLS upstream a test CA issued: the value goes only
 * into bodies sent to the secret's hosts, only where the placeholder stands exactly as given
 * (also when it arrives split across chunks), never beyond the body limit, and never back to
 * the container or into a log.
 */

const DEADLINE_MS = 4_000;
/** The body limit of these tests' proxy. */
const MAX_BODY = 4_096;
const ELSEWHERE_PLACEHOLDER = 'wcs_elsewherePlaceholder0123456789abcd';
const ELSEWHERE_VALUE = 'elsewhere-REAL-value-77aa10';

let watch: UncaughtWatch;
beforeEach(() => {
  watch = watchUncaught();
});
afterEach(() => {
  watch.stop();
  expect(watch.errors, 'exceptions nobody caught (the host process would end)').toEqual([]);
});

let fx: HostileProxy;
beforeAll(async () => {
  fx = await startHostileProxy({ limits: { maxSecretBodyBytes: MAX_BODY } });
  // The upstream reflects the body it received, as an echo service would.
  fx.secure.script = (req) => okAnswer(req.body.toString('latin1'));
  fx.plain.script = (req) => okAnswer(req.body.toString('latin1'));
  fx.secrets.current = [
    boundSecret({ body: true }),
    boundSecret({
      name: 'elsewhere',
      placeholder: ELSEWHERE_PLACEHOLDER,
      hosts: ['elsewhere.example'],
      body: true,
      value: () => ELSEWHERE_VALUE,
    }),
  ];
});
afterAll(async () => {
  await fx.close();
});

function expectAnswer(
  outcome: Outcome,
  status: number,
): asserts outcome is Outcome & {
  kind: 'response';
} {
  expect(outcome.kind, describeOutcome(outcome)).toBe('response');
  if (outcome.kind !== 'response') throw new Error('no response');
  expect(outcome.status, describeOutcome(outcome)).toBe(status);
}

async function auditAfter(from: number, route: string): Promise<AuditRecord> {
  let found: AuditRecord | undefined;
  await eventually(() => {
    found = fx.harness.audit.slice(from).find((r) => r.route === route);
    return found !== undefined;
  }, 3_000);
  if (!found) throw new Error(`no ${route} audit record after #${from}`);
  return found;
}

/** What the upstream received of the last request, as text. */
const lastBody = (upstream: HostileProxy['secure']): string =>
  upstream.requests.at(-1)?.body.toString('utf8') ?? '';

/** Writes raw request bytes in a fresh terminated tunnel, step by step, and reads the answer. */
async function rawInTunnel(steps: Buffer[], pauseMs = 50): Promise<string> {
  const opened = await openTlsTunnel(
    fx.harness.socketPath,
    fx.tunnel.authority,
    fx.tunnel.servername,
    fx.tunnel.caPem,
    DEADLINE_MS,
  );
  if ('outcome' in opened) throw new Error(describeOutcome(opened.outcome));
  const tls: TLSSocket = opened.tls;
  let answer = '';
  tls.on('data', (c: Buffer) => (answer += c.toString('latin1')));
  for (const step of steps) {
    tls.write(step);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  await eventually(() => /\r\n\r\n/.test(answer), DEADLINE_MS);
  await new Promise((r) => setTimeout(r, 200));
  tls.destroy();
  return answer;
}

describe('a secret written into request bodies', () => {
  it('a body to the secret host gets the value, framed by its new length; the reflection is scrubbed', async () => {
    const from = fx.harness.audit.length;
    const sent = `{"token":"${PLACEHOLDER}","again":"${PLACEHOLDER}"}`;
    const outcome = await fx.send('tls', DEADLINE_MS, [], sent);
    expectAnswer(outcome, 200);
    const received = fx.secure.requests.at(-1);
    const expected = `{"token":"${BOUND_VALUE}","again":"${BOUND_VALUE}"}`;
    expect(received?.body.toString('utf8')).toBe(expected);
    expect(received?.header('content-length')).toBe(String(Buffer.byteLength(expected)));
    expect(received?.header('transfer-encoding')).toBeUndefined();
    // The container reads back its placeholder, never the value.
    expect(outcome.body.toString('latin1')).toBe(sent);
    const record = await auditAfter(from, 'tls');
    expect(record.secrets).toEqual(['bound']);
    expect((record as AuditRecord & { suspected?: unknown }).suspected).toEqual([]);
  });

  it('a value beyond ASCII goes into the body in UTF-8, and its reflection is scrubbed', async () => {
    const saved = fx.secrets.current;
    const unicode = 'välue-€-REAL-9c1f';
    fx.secrets.current = [boundSecret({ body: true, value: () => unicode })];
    try {
      const sent = `{"token":"${PLACEHOLDER}"}`;
      const outcome = await fx.send('tls', DEADLINE_MS, [], sent);
      expectAnswer(outcome, 200);
      expect(lastBody(fx.secure)).toBe(`{"token":"${unicode}"}`);
      expect(outcome.body.toString('utf8')).toBe(sent);
    } finally {
      fx.secrets.current = saved;
    }
  });

  it('a secret kept out of headers: its placeholder in any header reaches its host as the placeholder, in the body as the value', async () => {
    const saved = fx.secrets.current;
    fx.secrets.current = [boundSecret({ body: true, headers: false })];
    const basic = Buffer.from(`user:${PLACEHOLDER}`).toString('base64');
    try {
      const from = fx.harness.audit.length;
      const sent = `{"token":"${PLACEHOLDER}"}`;
      const headers = [
        'Authorization',
        `Bearer ${PLACEHOLDER}`,
        'X-Api-Key',
        PLACEHOLDER,
        'Proxy-Authorization',
        `Basic ${basic}`,
        'X-Basic',
        `Basic ${basic}`,
        'Cookie',
        `token=${PLACEHOLDER.toUpperCase()}`,
      ];
      const outcome = await fx.send('tls', DEADLINE_MS, headers, sent);
      expectAnswer(outcome, 200);
      const received = fx.secure.requests.at(-1);
      expect(received?.body.toString('utf8')).toBe(`{"token":"${BOUND_VALUE}"}`);
      expect(received?.header('authorization')).toBe(`Bearer ${PLACEHOLDER}`);
      expect(received?.header('x-api-key')).toBe(PLACEHOLDER);
      expect(received?.header('x-basic')).toBe(`Basic ${basic}`);
      expect(received?.header('cookie')).toBe(`token=${PLACEHOLDER.toUpperCase()}`);
      expect(received?.head).not.toContain(BOUND_VALUE);
      expect(received?.head).not.toContain(Buffer.from(`user:${BOUND_VALUE}`).toString('base64'));
      expect(outcome.body.toString('latin1')).toBe(sent);
      const record = await auditAfter(from, 'tls');
      expect(record.secrets).toEqual(['bound']);
      expect((record as AuditRecord & { suspected?: unknown }).suspected).toContainEqual({
        secret: 'bound',
        form: 'header',
      });
    } finally {
      fx.secrets.current = saved;
    }
  });

  it('a placeholder split across chunk boundaries is still replaced', async () => {
    const half = Math.floor(PLACEHOLDER.length / 2);
    const parts = [`{"t":"${PLACEHOLDER.slice(0, half)}`, `${PLACEHOLDER.slice(half)}"}`];
    const chunk = (text: string): Buffer =>
      bytes(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);
    const answer = await rawInTunnel([
      bytes(
        `POST /echo HTTP/1.1\r\nHost: ${fx.tunnel.authority}\r\nTransfer-Encoding: chunked\r\n\r\n`,
      ),
      chunk(parts[0] ?? ''),
      chunk(parts[1] ?? ''),
      bytes('0\r\n\r\n'),
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(lastBody(fx.secure)).toBe(`{"t":"${BOUND_VALUE}"}`);
    expect(answer).not.toContain(BOUND_VALUE);
  });

  it('encoded forms of the placeholder are not placeholders: sent as they came', async () => {
    const percent = [...PLACEHOLDER]
      .map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
      .join('');
    const forms: [string, string][] = [
      ['percent-encoded', percent],
      ['base64', Buffer.from(PLACEHOLDER).toString('base64')],
      ['JSON-escaped', `\\u00${PLACEHOLDER.charCodeAt(0).toString(16)}${PLACEHOLDER.slice(1)}`],
      ['upper case', PLACEHOLDER.toUpperCase()],
    ];
    for (const [what, form] of forms) {
      const sent = `{"token":"${form}"}`;
      expectAnswer(await fx.send('tls', DEADLINE_MS, [], sent), 200);
      expect(lastBody(fx.secure), what).toBe(sent);
    }
  });

  it("another secret's placeholder in a body to this host is not replaced, and is recorded", async () => {
    const from = fx.harness.audit.length;
    const sent = `{"token":"${ELSEWHERE_PLACEHOLDER}"}`;
    expectAnswer(await fx.send('tls', DEADLINE_MS, [], sent), 200);
    expect(lastBody(fx.secure)).toBe(sent);
    const record = await auditAfter(from, 'tls');
    expect((record as AuditRecord & { suspected?: unknown }).suspected).toEqual([
      { secret: 'elsewhere', form: 'body' },
    ]);
  });

  it('the placeholder in a body to a host the secret is not bound to is not replaced, and is recorded', async () => {
    const from = fx.harness.audit.length;
    const sent = `{"token":"${PLACEHOLDER}"}`;
    expectAnswer(await fx.send('http', DEADLINE_MS, [], sent), 200);
    expect(lastBody(fx.plain)).toBe(sent);
    const record = await auditAfter(from, 'http');
    expect((record as AuditRecord & { suspected?: unknown }).suspected).toEqual([
      { secret: 'bound', form: 'body' },
    ]);
  });

  it('a body past the limit answers 413 body-too-large and nothing is sent, declared or chunked', async () => {
    const before = fx.secure.requests.length;
    const big = `{"token":"${PLACEHOLDER}","pad":"${'x'.repeat(MAX_BODY)}"}`;
    const declared = await fx.send('tls', DEADLINE_MS, [], big);
    expectAnswer(declared, 413);
    expect(errorCode(declared)).toBe('payload_too_large');
    expect(String(declared.body)).toContain(`${MAX_BODY} bytes`);

    const chunk = (text: string): Buffer =>
      bytes(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);
    const answer = await rawInTunnel([
      bytes(
        `POST /echo HTTP/1.1\r\nHost: ${fx.tunnel.authority}\r\nTransfer-Encoding: chunked\r\n\r\n`,
      ),
      chunk(big.slice(0, 3_000)),
      chunk(big.slice(3_000)),
      bytes('0\r\n\r\n'),
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(fx.secure.requests.length).toBe(before);
    // A body within the limit works again at once (the budget was given back).
    expectAnswer(await fx.send('tls', DEADLINE_MS, [], `{"t":"${PLACEHOLDER}"}`), 200);
    await eventually(() => fx.harness.proxy.bufferedBodyBytes === 0, 2_000);
    expect(fx.harness.proxy.bufferedBodyBytes).toBe(0);
  });

  it('the value never reaches the container or a log line', () => {
    for (const line of captured.logs) {
      expect(line).not.toContain(BOUND_VALUE);
      expect(line).not.toContain(ELSEWHERE_VALUE);
    }
    for (const r of fx.harness.audit) expect(JSON.stringify(r)).not.toContain(BOUND_VALUE);
  });
});
