import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { WorkcellError } from '@workcell/protocol';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ops, route } from './contract.js';

/**
 * The web console (packages/console), served at `/` from the files its build wrote. The files
 * are read once at start into memory and looked up by exact name, so no request path ever
 * reaches the file system. Every answer carries a strict Content-Security-Policy: scripts,
 * styles and API calls from this origin only, no inline code, no framing.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The console's built files by URL path (`/`, `/assets/console.js`, ...). */
export type ConsoleAssets = ReadonlyMap<string, Asset>;

/** Where the console's build is: `dist/` of the `@workcell/console` package, or null without it. */
export function consoleDistDir(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('@workcell/console/package.json');
    return join(dirname(pkg), 'dist');
  } catch {
    return null;
  }
}

/** Reads the built console; null when it has not been built (`npm run build` builds it). */
export async function loadConsoleAssets(dir: string | null): Promise<ConsoleAssets | null> {
  if (!dir) return null;
  const assets = new Map<string, Asset>();
  const add = async (file: string, urlPath: string): Promise<void> => {
    const body = await readFile(file);
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
    assets.set(urlPath, {
      body,
      type: TYPES[extname(file)] ?? 'application/octet-stream',
      etag,
    });
  };
  try {
    await add(join(dir, 'index.html'), '/');
    for (const name of await readdir(join(dir, 'assets'))) {
      await add(join(dir, 'assets', name), `/assets/${name}`);
    }
  } catch {
    return null;
  }
  return assets;
}

function send(reply: FastifyReply, asset: Asset, ifNoneMatch: string | undefined): FastifyReply {
  void reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-cache')
    .header('etag', asset.etag);
  if (ifNoneMatch === asset.etag) return reply.code(304).send();
  return reply.type(asset.type).send(asset.body);
}

/** `GET /` and `GET /assets/*`: the console, or 404 `not_found` when it was not built. */
export function registerConsole(app: FastifyInstance, assets: ConsoleAssets | null): void {
  route(app, ops.console, async (request, reply) => {
    const index = assets?.get('/');
    if (!index)
      throw new WorkcellError('not_found', 'the console is not built (npm run build builds it)');
    return send(reply, index, request.headers['if-none-match']);
  });
  route(app, ops.consoleAsset, async (request, reply, { params }) => {
    const asset = assets?.get(`/assets/${params['*']}`);
    if (!asset) throw new WorkcellError('not_found', 'no such console file');
    return send(reply, asset, request.headers['if-none-match']);
  });
}
