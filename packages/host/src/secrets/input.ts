import { putSecretBody as secretBodyShape } from '@workcell/protocol';
import { canonicalHost } from '@workcell/proxy';
import type { z } from 'zod';
import type { SecretInput } from './secret-store.js';

/**
 * The body of `PUT .../secrets/:name`: the shape from @workcell/protocol (which the client types
 * from), and each host checked as the proxy reads host names.
 */
export const putSecretBody = secretBodyShape.superRefine((body, ctx) => {
  if (body.format && !body.header)
    ctx.addIssue({ code: 'custom', path: ['format'], message: 'needs header' });
  if (body.headers === false) {
    if (body.header)
      ctx.addIssue({ code: 'custom', path: ['header'], message: 'needs headers to be true' });
    if (body.format)
      ctx.addIssue({ code: 'custom', path: ['format'], message: 'needs headers to be true' });
    if (!body.body)
      ctx.addIssue({
        code: 'custom',
        path: ['headers'],
        message:
          'false needs body true: a secret replaced neither in headers nor in bodies is sent nowhere',
      });
  }
  body.hosts.forEach((host, i) => {
    try {
      canonicalHost(host);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        path: ['hosts', i],
        message: `is not a host name or IP literal (${(err as Error).message}); wildcards and ports are not accepted`,
      });
    }
  });
});

/**
 * The stored form of a checked body: hosts canonical and unique, header lower-case, headers on
 * unless turned off.
 */
export function secretInput(body: z.output<typeof putSecretBody>): SecretInput {
  return {
    value: body.value,
    hosts: [...new Set(body.hosts.map((h) => canonicalHost(h).value))],
    header: body.header ? body.header.toLowerCase() : null,
    format: body.format ?? null,
    headers: body.headers ?? true,
    body: body.body ?? false,
  };
}
