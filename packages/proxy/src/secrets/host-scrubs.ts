import type { Scrub } from './scrub.js';
import {
  formatEncodings,
  type ProducedForm,
  type SecretBinding,
  type SuspectedPlaceholder,
} from './secrets.js';

/**
 * The encoded value forms the proxy wrote into requests (Basic credentials it re-encoded), kept
 * per listener so a later response of the same host, on any tunnel, has them scrubbed too.
 * Bounded: past `max` forms the oldest is forgotten.
 */
export class ProducedForms {
  private readonly forms = new Map<string, ProducedForm & { readonly host: string }>();

  constructor(private readonly max = 256) {}

  add(host: string, forms: readonly ProducedForm[]): void {
    for (const form of forms) {
      const key = `${host}\n${form.produced}`;
      this.forms.delete(key);
      this.forms.set(key, { ...form, host });
      if (this.forms.size > this.max) {
        const oldest = this.forms.keys().next();
        if (!oldest.done) this.forms.delete(oldest.value);
      }
    }
  }

  forHost(host: string): ProducedForm[] {
    return [...this.forms.values()].filter((f) => f.host === host);
  }

  clear(): void {
    this.forms.clear();
  }
}

function readable(secret: SecretBinding): string | null {
  try {
    const value = secret.value();
    return typeof value === 'string' && value.length > 0 ? value : null;
  } catch {
    return null;
  }
}

/**
 * What to scrub from every response of `host`: the value of each secret bound to it (raw, as
 * the format's `{basic:<user>}` writes it, as the proxy re-encoded it inside Basic
 * credentials, and in UTF-8 for a secret written into bodies), each written back as the
 * matching placeholder form. Longer needles come first, so a value inside another is not split.
 */
export function scrubsForHost(
  secrets: readonly SecretBinding[],
  host: string,
  produced: ProducedForms,
): Scrub[] {
  const bound = secrets.filter((s) => s.hosts.includes(host));
  const scrubs: Scrub[] = [];
  const add = (needle: string, replacement: string): void => {
    if (needle.length > 0)
      scrubs.push({
        needle: Buffer.from(needle, 'latin1'),
        replacement: Buffer.from(replacement, 'latin1'),
      });
  };
  for (const secret of bound) {
    const value = readable(secret);
    if (value === null) continue;
    add(value, secret.placeholder);
    // A body carries the value in UTF-8 (`body-secrets.ts`); beyond ASCII that differs.
    const utf8 = Buffer.from(value, 'utf8');
    if (secret.body && !utf8.equals(Buffer.from(value, 'latin1')))
      scrubs.push({ needle: utf8, replacement: Buffer.from(secret.placeholder, 'latin1') });
    if (secret.format !== null)
      for (const e of formatEncodings(secret.format, value, secret.placeholder))
        add(e.produced, e.placeholder);
  }
  const names = new Set(bound.map((s) => s.name));
  for (const form of produced.forHost(host))
    if (names.has(form.secret)) add(form.produced, form.placeholder);
  return scrubs.sort((a, b) => b.needle.length - a.needle.length);
}

/**
 * Watches a request body for the workspace's placeholders (exactly as given), across chunk
 * boundaries. A placeholder in a body is never replaced; it is forwarded and recorded.
 */
export class PlaceholderWatch {
  private tail = '';
  private readonly longest: number;
  private readonly found = new Set<string>();

  constructor(private readonly secrets: readonly SecretBinding[]) {
    this.longest = Math.max(0, ...secrets.map((s) => s.placeholder.length));
  }

  feed(chunk: Buffer): void {
    if (this.longest === 0 || this.found.size === this.secrets.length) return;
    const text = this.tail + chunk.toString('latin1');
    for (const secret of this.secrets)
      if (!this.found.has(secret.name) && text.includes(secret.placeholder))
        this.found.add(secret.name);
    this.tail = this.longest > 1 ? text.slice(-(this.longest - 1)) : '';
  }

  suspects(): SuspectedPlaceholder[] {
    return [...this.found].map((secret) => ({ secret, form: 'body' as const }));
  }
}
