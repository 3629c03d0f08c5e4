import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../support/host.js';

/**
 * A secret value or format that cannot travel in an HTTP header is refused when it is stored
 * (400 `secret_value_invalid`), on the workspace and the tenant routes, and nothing is kept: a
 * value the proxy could not send never reaches it.
 */
describe('PUT secrets refuses values and formats that cannot travel in a header', () => {
  let host: TestHost;
  let workspaceId: string;

  beforeAll(async () => {
    host = await startTestHost({ secretsKey: randomBytes(32).toString('base64') });
    ({ workspaceId } = await host.conversation());
  });

  afterAll(async () => {
    await host?.close();
  });

  const refused: [string, Record<string, unknown>][] = [
    ['a value with a character above U+00FF', { value: 'tok\u20acn' }],
    ['a value with an astral character', { value: 'tok\u{1f511}n' }],
    ['a value with CR and LF', { value: 'tok\r\nX-Injected: 1' }],
    ['a value with a bare LF', { value: 'tok\nn' }],
    ['a value with NUL', { value: 'tok\x00n' }],
    ['a value with DEL', { value: 'tok\x7fn' }],
    ['a value with a latin1 letter', { value: 'tok\xe9n' }],
    ['a value with a leading space', { value: ' token' }],
    ['a value with a trailing tab', { value: 'token\t' }],
    [
      'a format with a character above U+00FF',
      { value: 'token', header: 'Authorization', format: 'Bearer \u20ac {value}' },
    ],
    [
      'a format with CR and LF',
      { value: 'token', header: 'Authorization', format: 'Bearer {value}\r\nX-Injected: 1' },
    ],
    ['a format with NUL', { value: 'token', header: 'Authorization', format: 'Bearer\x00{value}' }],
    [
      'a format with a trailing space',
      { value: 'token', header: 'Authorization', format: 'Bearer {value} ' },
    ],
  ];

  refused.forEach(([what, body], index) => {
    it(`${what}: 400 secret_value_invalid on both routes, nothing stored`, async () => {
      const name = `probe_${index}`;
      for (const path of [`/v1/workspaces/${workspaceId}/secrets/${name}`, `/v1/secrets/${name}`]) {
        const res = await host.api(path, {
          method: 'PUT',
          body: JSON.stringify({ hosts: ['api.example.org'], ...body }),
        });
        const answer = (await res.json()) as { error?: { code?: string } };
        expect(res.status, `${path}: ${JSON.stringify(answer)}`).toBe(400);
        expect(answer.error?.code, path).toBe('secret_value_invalid');
        expect((await host.api(path)).status, `${path} was stored`).toBe(404);
      }
      const listed = (await (await host.api(`/v1/workspaces/${workspaceId}/secrets`)).json()) as {
        secrets: { name: string }[];
      };
      expect(listed.secrets.map((s) => s.name)).not.toContain(name);
    });
  });

  it('a value and format of printable ASCII are stored (the control)', async () => {
    const path = `/v1/workspaces/${workspaceId}/secrets/control`;
    const res = await host.api(path, {
      method: 'PUT',
      body: JSON.stringify({
        value: 'ghp_A-printable~value!',
        hosts: ['api.example.org'],
        header: 'Authorization',
        format: 'Bearer {value}',
      }),
    });
    expect(res.status).toBe(201);
    expect((await host.api(path, { method: 'DELETE' })).status).toBe(204);
  });
});
