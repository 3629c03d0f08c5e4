import { createHmac, randomBytes } from 'node:crypto';

/** The prefix of a Standard Webhooks signing secret; the rest is the base64 of the key bytes. */
export const SECRET_PREFIX = 'whsec_';

/** A new signing secret: `whsec_` + base64 of 24 random bytes. */
export function newSigningSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(24).toString('base64')}`;
}

/** Whether `secret` is `whsec_` + the base64 of 24-64 bytes. */
export function isSigningSecret(secret: string): boolean {
  if (!secret.startsWith(SECRET_PREFIX)) return false;
  const b64 = secret.slice(SECRET_PREFIX.length);
  const bytes = Buffer.from(b64, 'base64');
  return bytes.length >= 24 && bytes.length <= 64 && bytes.toString('base64') === b64;
}

/**
 * The `webhook-signature` header of the Standard Webhooks specification:
 * `v1,` + base64(HMAC-SHA256(key, `<id>.<timestamp>.<body>`)), the key being the secret's
 * base64 part decoded.
 */
export function signDelivery(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): string {
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  const mac = createHmac('sha256', key)
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest('base64');
  return `v1,${mac}`;
}
