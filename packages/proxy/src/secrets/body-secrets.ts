import { replaceEvery } from './scrub.js';
import type { SecretBinding } from './secrets.js';

/**
 * The secrets whose placeholder is replaced in the body of a request to `host`: those that say
 * so (`body`) and name the host. Toward any other host a body is forwarded as it came.
 */
export function bodySecretsFor(
  secrets: readonly SecretBinding[],
  host: string,
): readonly SecretBinding[] {
  return secrets.filter((s) => s.body && s.hosts.includes(host));
}

export type BodySubstitution =
  | { readonly ok: true; readonly body: Buffer; readonly used: readonly string[] }
  | { readonly ok: false; readonly secret: string };

function readValue(secret: SecretBinding): string | null {
  try {
    const value = secret.value();
    return typeof value === 'string' && value.length > 0 ? value : null;
  } catch {
    return null;
  }
}

/**
 * `body` (whole, so a placeholder split across the chunks it arrived in is found) with each
 * placeholder of `secrets`, exactly as given, replaced by the secret's value in UTF-8. Encoded
 * forms (percent-encoded, base64, JSON `\u` escapes, another letter case) are not placeholders
 * and stay as they are. A secret whose value cannot be read answers its name.
 */
export function substituteBody(body: Buffer, secrets: readonly SecretBinding[]): BodySubstitution {
  let out = body;
  const used: string[] = [];
  for (const secret of secrets) {
    const needle = Buffer.from(secret.placeholder, 'latin1');
    if (!out.includes(needle)) continue;
    const value = readValue(secret);
    if (value === null) return { ok: false, secret: secret.name };
    out = replaceEvery(out, needle, Buffer.from(value, 'utf8'));
    used.push(secret.name);
  }
  return { ok: true, body: out, used };
}
