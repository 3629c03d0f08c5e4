/**
 * Workspace secrets as the proxy sees them, and the one function that decides what a request may
 * carry: a placeholder is replaced by its secret's value only in a header of a request to one of
 * the secret's hosts, inside TLS the proxy terminated; anywhere else the request is refused.
 */

/** One secret of the calling workspace. */
export interface SecretBinding {
  /** The secret's name (audit records and refusals carry it, never the value). */
  readonly name: string;
  /** The stand-in the container holds (`WORKCELL_SECRET_<NAME>`). */
  readonly placeholder: string;
  /** Canonical host names or IP literals the value may be sent to. */
  readonly hosts: readonly string[];
  /** Lower-case header name the placeholder is accepted in; null: any header. */
  readonly header: string | null;
  /**
   * The whole header value written when the placeholder appears in it, with `{value}` and
   * `{basic:<user>}` (base64 of `<user>:<value>`) filled in; null: the placeholder is replaced
   * where it stands (inside Basic credentials too).
   */
  readonly format: string | null;
  /** The real value, read when it is substituted, so a rotation applies to the next request. */
  readonly value: () => string;
}

/** The calling workspace's secrets as of now; read on every request. */
export type SecretSource = () => readonly SecretBinding[];

export const NO_SECRETS: SecretSource = () => [];

/** Whether some secret of the workspace is bound to `host` (its CONNECT tunnels are terminated). */
export function isBoundHost(secrets: readonly SecretBinding[], host: string): boolean {
  return secrets.some((s) => s.hosts.includes(host));
}

export type SecretRefusalReason =
  'secret-wrong-host' | 'secret-wrong-header' | 'secret-in-target' | 'secret-not-over-tls';

export type SecretOutcome =
  | { readonly ok: true; readonly headers: string[]; readonly used: string[] }
  | {
      readonly ok: false;
      readonly secret: string;
      readonly reason: SecretRefusalReason;
      readonly message: string;
    };

/** Where the request goes: a host inside a terminated TLS tunnel, or one the proxy cannot protect. */
export type SecretDestination =
  | { readonly kind: 'tls'; readonly host: string }
  | { readonly kind: 'plain'; readonly host: string };

interface Basic {
  readonly scheme: string;
  readonly decoded: string;
}

const BASIC = /^(basic)\s+([A-Za-z0-9+/=_-]+)\s*$/i;

function decodeBasic(value: string): Basic | null {
  const m = BASIC.exec(value);
  if (!m) return null;
  return { scheme: m[1] ?? 'Basic', decoded: Buffer.from(m[2] ?? '', 'base64').toString('latin1') };
}

function encodeBasic(scheme: string, decoded: string): string {
  return `${scheme} ${Buffer.from(decoded, 'latin1').toString('base64')}`;
}

/** Fills `{value}` and `{basic:<user>}` in a secret's format. */
export function renderFormat(format: string, value: string): string {
  return format.replace(/\{value\}|\{basic:([^{}]*)\}/g, (_m, user: string | undefined) =>
    user === undefined ? value : Buffer.from(`${user}:${value}`, 'latin1').toString('base64'),
  );
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function refused(
  secret: SecretBinding,
  reason: SecretRefusalReason,
  host: string,
): SecretOutcome & { ok: false } {
  const messages: Record<SecretRefusalReason, string> = {
    'secret-wrong-host': `the placeholder of secret "${secret.name}" was sent to ${host}, which is not one of its hosts; the request was refused`,
    'secret-wrong-header': `the placeholder of secret "${secret.name}" is accepted only in the ${secret.header ?? ''} header; the request was refused`,
    'secret-in-target': `the placeholder of secret "${secret.name}" is in the request target; placeholders are replaced only in headers, and the request was refused`,
    'secret-not-over-tls': `the placeholder of secret "${secret.name}" was sent to ${host} without TLS; secrets go only over HTTPS to their hosts, and the request was refused`,
  };
  return { ok: false, secret: secret.name, reason, message: messages[reason] };
}

/**
 * Checks one request's target and raw header list (`[name, value, ...]`) for the workspace's
 * placeholders and answers the headers to send (placeholders replaced) or the refusal. Headers
 * without a placeholder pass unchanged, in order and case.
 */
export function applySecrets(
  secrets: readonly SecretBinding[],
  destination: SecretDestination,
  target: string,
  rawHeaders: readonly string[],
): SecretOutcome {
  const { host } = destination;
  if (secrets.length === 0) return { ok: true, headers: [...rawHeaders], used: [] };
  const decodedTarget = safeDecode(target);
  for (const secret of secrets) {
    if (target.includes(secret.placeholder) || decodedTarget.includes(secret.placeholder))
      return refused(secret, 'secret-in-target', host);
  }
  const headers: string[] = [];
  const used = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const lower = name.toLowerCase();
    let value = rawHeaders[i + 1] ?? '';
    for (const secret of secrets) {
      const inRaw = value.includes(secret.placeholder);
      const basic = inRaw ? null : decodeBasic(value);
      const inBasic = basic?.decoded.includes(secret.placeholder) ?? false;
      if (!inRaw && !inBasic) continue;
      if (!secret.hosts.includes(host)) return refused(secret, 'secret-wrong-host', host);
      if (destination.kind !== 'tls') return refused(secret, 'secret-not-over-tls', host);
      if (secret.header !== null && secret.header !== lower)
        return refused(secret, 'secret-wrong-header', host);
      const real = secret.value();
      if (secret.format !== null) value = renderFormat(secret.format, real);
      else if (inRaw) value = value.split(secret.placeholder).join(real);
      else if (basic)
        value = encodeBasic(basic.scheme, basic.decoded.split(secret.placeholder).join(real));
      used.add(secret.name);
    }
    headers.push(name, value);
  }
  return { ok: true, headers, used: [...used] };
}
