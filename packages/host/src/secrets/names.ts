import { randomBytes } from 'node:crypto';

/** A secret's name: a letter, then letters, digits and `_`; names are case-insensitive. */
export const SECRET_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** The prefix of every placeholder environment variable in a container. */
export const SECRET_ENV_PREFIX = 'WORKCELL_SECRET_';

/** The stored (canonical) form of a name. */
export function canonicalSecretName(name: string): string {
  return name.toLowerCase();
}

/** `github` -> `WORKCELL_SECRET_GITHUB`. */
export function secretEnvName(name: string): string {
  return `${SECRET_ENV_PREFIX}${name.toUpperCase()}`;
}

/** A fresh placeholder: `wcs_` and 32 base62-ish characters, no value in it. */
export function newPlaceholder(): string {
  return `wcs_${randomBytes(24).toString('base64url').replace(/[-_]/g, 'x')}`;
}
