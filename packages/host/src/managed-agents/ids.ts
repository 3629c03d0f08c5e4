import { randomBytes } from 'node:crypto';

/** The id prefixes Anthropic's Managed Agents API uses, by resource. */
export const ID_PREFIX = {
  agent: 'agent',
  environment: 'env',
  session: 'sesn',
  vault: 'vlt',
  credential: 'vcrd',
  event: 'sevt',
  request: 'req',
} as const;
export type IdKind = keyof typeof ID_PREFIX;

const TIME_WIDTH = 10;
const ALPHANUMERIC = /[^A-Za-z0-9]/g;

/**
 * A new id: the prefix, the creation time (base 36, fixed width, so ids sort by creation) and
 * 16 random letters and digits.
 */
export function newResourceId(kind: IdKind, now = Date.now()): string {
  const time = now.toString(36).padStart(TIME_WIDTH, '0');
  const random = randomBytes(16).toString('base64').replace(ALPHANUMERIC, 'x').slice(0, 16);
  return `${ID_PREFIX[kind]}_${time}${random}`;
}

/** Whether `id` has the shape of an id of `kind` (anything else is simply not found). */
export function isResourceId(kind: IdKind, id: string): boolean {
  return new RegExp(`^${ID_PREFIX[kind]}_[a-z0-9]{${TIME_WIDTH}}[A-Za-z0-9]{16}$`).test(id);
}
