import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, loadConsoleAssets, registerConsole } from '../../src/api/console.js';
import { sendError } from '../../src/api/errors.js';

let dir: string | null = null;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

async function app(built: boolean) {
  dir = mkdtempSync(join(tmpdir(), 'workcell-console-'));
  if (built) {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Workcell</title>');
    writeFileSync(join(dir, 'assets', 'console.js'), 'console.log(1)');
    writeFileSync(join(dir, 'secret.txt'), 'not served');
  }
  const server = Fastify();
  server.setErrorHandler((err, _req, reply) => sendError(reply, err));
  registerConsole(server, await loadConsoleAssets(dir));
  return server;
}

describe('the console at /', () => {
  it('serves the page and its assets with a strict Content-Security-Policy', async () => {
    const server = await app(true);
    const page = await server.inject('/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).toContain("connect-src 'self'");
    expect(CONSOLE_CSP).not.toContain('unsafe-inline');
    expect(page.headers['x-frame-options']).toBe('DENY');
    const script = await server.inject('/assets/console.js');
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const again = await server.inject({
      url: '/assets/console.js',
      headers: { 'if-none-match': String(script.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
  });

  it('serves only the files the build wrote, never another path', async () => {
    const server = await app(true);
    for (const url of [
      '/assets/../secret.txt',
      '/assets/%2e%2e/secret.txt',
      '/assets/..%2fsecret.txt',
      '/assets/nope.js',
    ]) {
      const res = await server.inject(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.body).not.toContain('not served');
    }
  });

  it('answers 404 not_found saying how to build it when the console was not built', async () => {
    const server = await app(false);
    const res = await server.inject('/');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({
      error: { code: 'not_found', message: expect.stringContaining('npm run build') },
    });
  });
});
