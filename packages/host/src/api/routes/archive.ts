import type { ArchiveFormat } from '@workcell/protocol';
import { WorkcellError } from '@workcell/protocol';
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import { archiveFolder } from '../../archive/archive-service.js';
import type { ApiServices } from '../context.js';
import { ops, route } from '../contract.js';

/**
 * The download format the `Accept` header asks for: `zip` for `application/zip`, uncompressed
 * `tar` for `application/x-tar` (fastest: no compression), `tar.gz` otherwise. gzip named
 * alongside either keeps `tar.gz`, the default.
 */
export function downloadFormat(accept: string | undefined): ArchiveFormat {
  const types = (accept ?? '')
    .split(',')
    .map((part) => part.split(';')[0]?.trim().toLowerCase() ?? '');
  const gzip = types.some((t) => t === 'application/gzip' || t === 'application/x-gzip');
  if (gzip) return 'tar.gz';
  if (types.includes('application/zip')) return 'zip';
  if (types.includes('application/x-tar')) return 'tar';
  return 'tar.gz';
}

const CONTENT_TYPE: Readonly<Record<ArchiveFormat, string>> = {
  'tar.gz': 'application/gzip',
  tar: 'application/x-tar',
  zip: 'application/zip',
};

/** `GET|POST /v1/workspaces/:wid/archive`: the workspace's files as one archive, out and in. */
export function registerArchiveRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, ops.downloadArchive, async (request, reply, { params, query }) => {
    const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
    const folder = archiveFolder(query.path);
    const format = downloadFormat(request.headers.accept);
    const body = await s.archives.download(ws.tenant, ws.id, folder, format);
    const name = `${ws.id}${folder === '' ? '' : `-${folder.replaceAll('/', '-')}`}.${format}`;
    void reply
      .type(CONTENT_TYPE[format])
      .header('content-disposition', `attachment; filename="${asciiName(name)}"`)
      .header('x-content-type-options', 'nosniff');
    // HEAD answers the headers without reading the workspace out of the store.
    if (request.method === 'HEAD') {
      body.destroy();
      return reply.send();
    }
    return reply.send(body);
  });

  // The body is the archive as a stream, whatever its content type (the service decides).
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    route(scope, ops.uploadArchive, async (request, reply, { params, query }) => {
      const ws = await s.catalog.getWorkspace(request.principal.tenant, params.wid);
      const folder = archiveFolder(query.path);
      const { maxArchiveBytes } = s.limits;
      const length = request.headers['content-length'];
      if (length !== undefined && Number(length) > maxArchiveBytes) {
        throw new WorkcellError(
          'payload_too_large',
          `archives are limited to ${maxArchiveBytes} bytes (WORKCELL_ARCHIVE_MAX_BYTES)`,
        );
      }
      const body = (request.body ?? request.raw) as Readable;
      const result = await s.archives.upload(
        ws.tenant,
        ws.id,
        folder,
        body,
        request.headers['content-type'],
      );
      return reply.code(200).send(result);
    });
  });
}

/** A file name safe inside a quoted header value: printable ASCII, no quote or backslash. */
function asciiName(name: string): string {
  return name.replace(/[^\x20-\x7e]|["\\]/g, '_');
}
