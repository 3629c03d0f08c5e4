import { canonicalHost } from '@workcell/proxy';
import { z } from 'zod';
import type { SecretInput } from './secret-store.js';

/** Header names a secret may not be written into: framing, routing and per-connection headers. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

/** Control characters (CR and LF above all) never go into a header. */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;

export const putSecretBody = z
  .object({
    /** The real value; stored sealed, never shown again. */
    value: z
      .string()
      .min(1)
      .max(16_384)
      .refine((v) => !CONTROL.test(v), 'must not contain control characters'),
    /** Exact host names (or IP literals) the value may be sent to. */
    hosts: z.array(z.string().min(1).max(253)).min(1).max(20),
    /** The header the placeholder is accepted in (any header when absent). */
    header: z
      .string()
      .regex(TOKEN, 'must be a header name')
      .refine(
        (h) => !RESERVED_HEADERS.has(h.toLowerCase()) && !h.toLowerCase().startsWith('proxy-'),
        'is a header a secret may not be written into',
      )
      .nullable()
      .optional(),
    /** The header's whole value, with `{value}` or `{basic:<user>}`; needs `header`. */
    format: z
      .string()
      .min(1)
      .max(1_000)
      .refine((f) => !CONTROL.test(f), 'must not contain control characters')
      .refine((f) => /\{value\}|\{basic:[^{}]*\}/.test(f), 'must contain {value} or {basic:<user>}')
      .refine((f) => !/\{basic:[^{}]*:[^{}]*\}/.test(f), 'a {basic:<user>} user has no colon')
      .nullable()
      .optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.format && !body.header)
      ctx.addIssue({ code: 'custom', path: ['format'], message: 'needs header' });
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

/** The stored form of a checked body: hosts canonical and unique, header lower-case. */
export function secretInput(body: z.output<typeof putSecretBody>): SecretInput {
  return {
    value: body.value,
    hosts: [...new Set(body.hosts.map((h) => canonicalHost(h).value))],
    header: body.header ? body.header.toLowerCase() : null,
    format: body.format ?? null,
  };
}
