import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TOKEN_A, TOKEN_B, apiHarness, bearer, type ApiHarness } from './support.js';

let h: ApiHarness;
afterEach(async () => {
  await h?.close();
});

const VALUE = 'ghp_unit-REAL-value-0d3f5a';
const ROTATED = 'ghp_unit-ROTATED-value-88b2';

/** Every file under the object store's directory, with its text. */
function storedFiles(root: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push({ path, text: readFileSync(path, 'latin1') });
    }
  };
  walk(root);
  return out;
}

async function put(
  url: string,
  payload: Record<string, unknown>,
  token = TOKEN_A,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await h.app.inject({ method: 'PUT', url, headers: bearer(token), payload });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
}

describe('secrets API', () => {
  it('answers 501 with a clear error on every route when no key is configured', async () => {
    h = await apiHarness({ secretsKey: null });
    const { workspaceId } = await h.conversation();
    const calls: [string, string][] = [
      ['GET', `/v1/workspaces/${workspaceId}/secrets`],
      ['GET', `/v1/workspaces/${workspaceId}/secrets/github`],
      ['PUT', `/v1/workspaces/${workspaceId}/secrets/github`],
      ['DELETE', `/v1/workspaces/${workspaceId}/secrets/github`],
      ['GET', '/v1/secrets'],
      ['GET', '/v1/secrets/github'],
      ['PUT', '/v1/secrets/github'],
      ['DELETE', '/v1/secrets/github'],
    ];
    for (const [method, url] of calls) {
      const res = await h.app.inject({
        method: method as 'GET',
        url,
        headers: bearer(TOKEN_A),
        payload: method === 'PUT' ? { value: 'x', hosts: ['api.github.com'] } : undefined,
      });
      expect(res.statusCode, `${method} ${url}`).toBe(501);
      expect(res.json()).toMatchObject({
        error: {
          code: 'secrets_not_configured',
          message: expect.stringContaining('WORKCELL_SECRETS_KEY'),
        },
      });
    }
  });

  it('stores the value sealed, and never answers it', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    const url = `/v1/workspaces/${workspaceId}/secrets/GitHub`;
    const created = await put(url, {
      value: VALUE,
      hosts: ['API.GitHub.com.', 'github.com'],
      header: 'Authorization',
      format: 'Bearer {value}',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'github',
      scope: 'workspace',
      hosts: ['api.github.com', 'github.com'],
      header: 'authorization',
      format: 'Bearer {value}',
      env: 'WORKCELL_SECRET_GITHUB',
      placeholder: expect.stringMatching(/^wcs_[A-Za-z0-9]{32}$/),
    });
    const list = await h.app.inject({
      url: `/v1/workspaces/${workspaceId}/secrets`,
      headers: bearer(TOKEN_A),
    });
    const one = await h.app.inject({ url, headers: bearer(TOKEN_A) });
    expect(list.json<{ secrets: unknown[] }>().secrets).toHaveLength(1);
    expect(one.statusCode).toBe(200);
    for (const body of [JSON.stringify(created.body), list.body, one.body])
      expect(body).not.toContain(VALUE);

    const files = storedFiles(h.dataDir).filter((f) => f.path.includes('/secrets/'));
    expect(files).toHaveLength(1);
    expect(files[0]?.text).not.toContain(VALUE);
    expect(files[0]?.text).toContain('"alg":"AES-256-GCM"');
    for (const line of h.logs) expect(line).not.toContain(VALUE);
  });

  it('keeps the placeholder on rotation; the next value read is the new one', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    const url = `/v1/workspaces/${workspaceId}/secrets/github`;
    const first = await put(url, { value: VALUE, hosts: ['api.github.com'] });
    await h.secrets.placeholders('tenant-a', workspaceId);
    const [binding] = h.secrets.bindings('tenant-a', workspaceId);
    expect(binding?.value()).toBe(VALUE);
    const second = await put(url, { value: ROTATED, hosts: ['api.github.com'] });
    expect(second.status).toBe(200);
    expect(second.body.placeholder).toBe(first.body.placeholder);
    const [after] = h.secrets.bindings('tenant-a', workspaceId);
    expect(after?.value()).toBe(ROTATED);
    expect(await h.secrets.placeholders('tenant-a', workspaceId)).toEqual({
      WORKCELL_SECRET_GITHUB: first.body.placeholder,
    });
  });

  it('applies tenant secrets to every workspace unless the workspace has its own', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    await put('/v1/secrets/npm', { value: 'npm-tenant', hosts: ['registry.npmjs.org'] });
    await put('/v1/secrets/github', { value: 'gh-tenant', hosts: ['api.github.com'] });
    await put(`/v1/workspaces/${workspaceId}/secrets/github`, {
      value: 'gh-own',
      hosts: ['api.github.com'],
    });
    const list = await h.app.inject({
      url: `/v1/workspaces/${workspaceId}/secrets`,
      headers: bearer(TOKEN_A),
    });
    const scopes = Object.fromEntries(
      list
        .json<{ secrets: { name: string; scope: string }[] }>()
        .secrets.map((s) => [s.name, s.scope]),
    );
    expect(scopes).toEqual({ github: 'workspace', npm: 'tenant' });
    const values = Object.fromEntries(
      h.secrets.bindings('tenant-a', workspaceId).map((b) => [b.name, b.value()]),
    );
    expect(values).toEqual({ github: 'gh-own', npm: 'npm-tenant' });
    const tenantList = await h.app.inject({ url: '/v1/secrets', headers: bearer(TOKEN_A) });
    expect(tenantList.json<{ secrets: unknown[] }>().secrets).toHaveLength(2);
    // Another tenant sees none of them, and not this workspace.
    const other = await h.app.inject({ url: '/v1/secrets', headers: bearer(TOKEN_B) });
    expect(other.json<{ secrets: unknown[] }>().secrets).toEqual([]);
    const foreign = await put(
      `/v1/workspaces/${workspaceId}/secrets/x`,
      { value: 'v', hosts: ['a.example'] },
      TOKEN_B,
    );
    expect(foreign.status).toBe(404);
  });

  it('removes with DELETE (204), then answers 404', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    const url = `/v1/workspaces/${workspaceId}/secrets/github`;
    await put(url, { value: VALUE, hosts: ['api.github.com'] });
    const del = await h.app.inject({ method: 'DELETE', url, headers: bearer(TOKEN_A) });
    expect(del.statusCode).toBe(204);
    const again = await h.app.inject({ method: 'DELETE', url, headers: bearer(TOKEN_A) });
    expect(again.statusCode).toBe(404);
    expect((await h.app.inject({ url, headers: bearer(TOKEN_A) })).statusCode).toBe(404);
    expect(h.secrets.bindings('tenant-a', workspaceId)).toEqual([]);
  });

  it('refuses bad input with 400 and stores nothing', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    const base = `/v1/workspaces/${workspaceId}/secrets`;
    const bad: [string, Record<string, unknown>][] = [
      [`${base}/1bad`, { value: 'v', hosts: ['a.example'] }],
      [`${base}/with-dash`, { value: 'v', hosts: ['a.example'] }],
      [`${base}/ok`, { value: 'v', hosts: [] }],
      [`${base}/ok`, { value: 'v', hosts: ['*.example.com'] }],
      [`${base}/ok`, { value: 'v', hosts: ['a.example:443'] }],
      [`${base}/ok`, { value: 'v', hosts: ['https://a.example/'] }],
      [`${base}/ok`, { value: 'v', hosts: ['a.example'], format: 'Bearer {value}' }],
      [`${base}/ok`, { value: 'v', hosts: ['a.example'], header: 'Host' }],
      [`${base}/ok`, { value: 'v', hosts: ['a.example'], header: 'Proxy-Authorization' }],
      [`${base}/ok`, { value: 'v', hosts: ['a.example'], header: 'Bad Header' }],
      [`${base}/ok`, { value: 'v', hosts: ['a.example'], header: 'x-t', format: 'no token' }],
      [`${base}/ok`, { value: 'v', hosts: ['a.example'], extra: true }],
      [`${base}/ok`, { value: 'v', hosts: ['a.example'], headers: 'no' }],
      [`${base}/ok`, { value: 'v', hosts: ['a.example'], headers: false }],
      [`${base}/ok`, { value: 'v', hosts: ['a.example'], headers: false, body: false }],
      [
        `${base}/ok`,
        { value: 'v', hosts: ['a.example'], headers: false, body: true, header: 'x-t' },
      ],
      [
        `${base}/ok`,
        {
          value: 'v',
          hosts: ['a.example'],
          headers: false,
          body: true,
          header: 'x-t',
          format: 'Bearer {value}',
        },
      ],
    ];
    for (const [url, payload] of bad) {
      const res = await put(url, payload);
      expect(res.status, `${url} ${JSON.stringify(payload)}`).toBe(400);
      expect((res.body.error as { code: string }).code).toBe('validation_failed');
    }
    expect(storedFiles(h.dataDir).filter((f) => f.path.includes('/secrets/'))).toEqual([]);
  });

  it('keeps a secret out of headers when asked (headers false, body true); headers default to true', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    const base = `/v1/workspaces/${workspaceId}/secrets`;
    const bodyOnly = await put(`${base}/form`, {
      value: VALUE,
      hosts: ['a.example'],
      headers: false,
      body: true,
    });
    expect(bodyOnly.status).toBe(201);
    expect(bodyOnly.body).toMatchObject({ name: 'form', headers: false, body: true });
    const plain = await put(`${base}/plain`, { value: VALUE, hosts: ['a.example'] });
    expect(plain.body).toMatchObject({ name: 'plain', headers: true, body: false });
    await h.secrets.placeholders('tenant-a', workspaceId);
    const bindings = h.secrets.cachedBindings('tenant-a', workspaceId);
    expect(Object.fromEntries(bindings.map((b) => [b.name, [b.headers, b.body]]))).toEqual({
      form: [false, true],
      plain: [true, false],
    });

    const nowhere = await put(`${base}/nowhere`, {
      value: VALUE,
      hosts: ['a.example'],
      headers: false,
    });
    expect(nowhere.status).toBe(400);
    expect(JSON.stringify(nowhere.body)).toContain('sent nowhere');
  });

  it('refuses a value or format that cannot travel in an HTTP header, with secret_value_invalid, and stores nothing', async () => {
    h = await apiHarness();
    const { workspaceId } = await h.conversation();
    const url = `/v1/workspaces/${workspaceId}/secrets/token`;
    const header = { hosts: ['a.example'], header: 'authorization' };
    const bad: Record<string, unknown>[] = [
      { value: 'line\r\nX-Injected: 1', hosts: ['a.example'] },
      { value: 'tok\u20acn', hosts: ['a.example'] },
      { value: 'caf\u00e9', hosts: ['a.example'] },
      { value: 'nul\u0000byte', hosts: ['a.example'] },
      { value: 'del\u007f', hosts: ['a.example'] },
      { value: ' leading', hosts: ['a.example'] },
      { value: 'trailing ', hosts: ['a.example'] },
      { value: '\ud83d\udd11', hosts: ['a.example'] },
      { ...header, value: 'ok-value', format: 'Bearer\u2003{value}' },
      { ...header, value: 'ok-value', format: 'Bearer {value}\n' },
    ];
    for (const payload of bad) {
      const res = await put(url, payload);
      expect(res.status, JSON.stringify(payload)).toBe(400);
      expect((res.body.error as { code: string }).code, JSON.stringify(payload)).toBe(
        'secret_value_invalid',
      );
    }
    expect(storedFiles(h.dataDir).filter((f) => f.path.includes('/secrets/'))).toEqual([]);
    const good = await put(url, { ...header, value: 'a b\tc~!', format: 'Token {value}' });
    expect(good.status).toBe(201);
  });

  it('caps the secrets of one scope', async () => {
    h = await apiHarness();
    for (let i = 0; i < 5; i += 1)
      expect((await put(`/v1/secrets/s${i}`, { value: 'v', hosts: ['a.example'] })).status).toBe(
        201,
      );
    const over = await put('/v1/secrets/s5', { value: 'v', hosts: ['a.example'] });
    expect(over.status).toBe(409);
    expect((await put('/v1/secrets/s0', { value: 'w', hosts: ['a.example'] })).status).toBe(200);
  });

  it('refuses to open a sealed record moved to another workspace', async () => {
    h = await apiHarness();
    const a = await h.conversation();
    const b = await h.conversation();
    await put(`/v1/workspaces/${a.workspaceId}/secrets/github`, {
      value: VALUE,
      hosts: ['x.example'],
    });
    const [file] = storedFiles(h.dataDir).filter((f) => f.path.includes('/secrets/'));
    const target = file!.path.replace(a.workspaceId, b.workspaceId);
    mkdirSync(join(target, '..'), { recursive: true });
    writeFileSync(target, file!.text);
    await h.secrets.placeholders('tenant-a', b.workspaceId);
    const [moved] = h.secrets.bindings('tenant-a', b.workspaceId);
    expect(() => moved?.value()).toThrow();
  });
});
