import { WorkcellError } from '@workcell/protocol';
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import { nextCursor, pageOf, pageRequest } from '../../catalog/page.js';
import type { ApiServices } from '../context.js';
import { ops, route } from '../contract.js';
import { contentTypeFor } from '../../files/content-type.js';
import { checkWorkspacePath } from '../../storage/workspace-path.js';

/** `bytes=a-b` / `bytes=a-` / `bytes=-n` against a size; null when absent; throws when unsatisfiable. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size)
    throw new WorkcellError('bad_request', `range not satisfiable for size ${size}`, {
      rangeNotSatisfiable: true,
    });
  return { start, end };
}

export function registerFileRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, ops.listFiles, async (request, _reply, { params, query }) => {
    const req = pageRequest('files', query);
    const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
    const files = await s.files.list(ws.tenant, ws.id, query.prefix);
    const page = pageOf(files, (f) => f.path, req);
    return { files: page.items, nextCursor: nextCursor('files', page) };
  });

  route(app, ops.getFile, async (request, reply, { params }) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
    const path = checkWorkspacePath(params['*']);
    const listing = await s.files.list(ws.tenant, ws.id);
    const entry = listing.find((f) => f.path === path);
    if (!entry) throw new WorkcellError('not_found', 'file not found');
    const etag = `"${entry.sha256}"`;
    if (request.headers['if-none-match'] === etag)
      return reply.code(304).header('etag', etag).send();
    let range: { start: number; end: number } | null;
    try {
      range = parseRange(request.headers.range, entry.size);
    } catch {
      return reply
        .code(416)
        .header('content-range', `bytes */${entry.size}`)
        .send({ error: { code: 'bad_request', message: 'range not satisfiable' } });
    }
    const got = await s.files.get(
      ws.tenant,
      ws.id,
      path,
      range ? { start: range.start, end: range.end } : undefined,
    );
    if (!got) throw new WorkcellError('not_found', 'file not found');
    void reply
      .header('etag', etag)
      .header('accept-ranges', 'bytes')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "sandbox; default-src 'none'")
      .header('last-modified', new Date(entry.modifiedAt).toUTCString())
      .type(contentTypeFor(path));
    if (range) {
      void reply
        .code(206)
        .header('content-range', `bytes ${range.start}-${range.end}/${entry.size}`)
        .header('content-length', range.end - range.start + 1);
    } else {
      void reply.header('content-length', entry.size);
    }
    return reply.send(got.body);
  });

  route(app, ops.deleteFile, async (request, reply, { params }) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
    const deleted = await s.files.delete(ws.tenant, ws.id, params['*']);
    if (!deleted) throw new WorkcellError('not_found', 'file not found');
    return reply.code(204).send();
  });

  // Uploads take the raw body as a stream, whatever its content type.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { bodyLimit: s.limits.maxFileBytes }, (_req, payload, done) =>
      done(null, payload),
    );
    route(scope, ops.putFile, async (request, reply, { params }) => {
      const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
      const length = request.headers['content-length']
        ? Number(request.headers['content-length'])
        : undefined;
      if (length !== undefined && length > s.limits.maxFileBytes) {
        throw new WorkcellError(
          'payload_too_large',
          `files are limited to ${s.limits.maxFileBytes} bytes`,
        );
      }
      const body = (request.body ?? request.raw) as Readable;
      const entry = await s.files.put(ws.tenant, ws.id, params['*'], body);
      return reply.code(201).send({ path: entry.path, size: entry.size, sha256: entry.sha256 });
    });
  });
}
