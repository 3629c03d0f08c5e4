import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** A secret value as stored: AES-256-GCM, a fresh 96-bit nonce per value, base64 fields. */
export interface SealedValue {
  alg: 'AES-256-GCM';
  iv: string;
  tag: string;
  data: string;
}

/**
 * Encrypts secret values at rest with the operator's key (`WORKCELL_SECRETS_KEY`). The
 * additional data binds each value to its tenant, scope and name, so a stored record moved to
 * another workspace or renamed fails to decrypt. The key never leaves this object.
 */
export class SecretCipher {
  readonly #key: Buffer;

  constructor(keyBase64: string) {
    const key = Buffer.from(keyBase64.trim(), 'base64');
    if (key.length !== 32) throw new Error('the secrets key must be 32 bytes');
    this.#key = key;
  }

  seal(value: string, context: string): SealedValue {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const data = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return {
      alg: 'AES-256-GCM',
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
  }

  /** Throws when the record was altered, moved, or sealed with another key. */
  open(sealed: SealedValue, context: string): string {
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([
      decipher.update(Buffer.from(sealed.data, 'base64')),
      decipher.final(),
    ]).toString('utf8');
  }

  /** Never print the key. */
  toJSON(): string {
    return '[SecretCipher]';
  }
}
