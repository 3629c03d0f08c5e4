/**
 * Workspace secrets as the proxy sees them, and the one function that decides what a request may
 * carry: a placeholder is replaced by its secret's value only in a header of a request to one of
 * the secret's hosts, inside TLS the proxy terminated, and only for a secret that allows headers;
 * anywhere else the request is refused.
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
  /**
   * Whether the placeholder is replaced in request header values. False: a placeholder in a
   * header is forwarded as it stands (never the value) and recorded as suspected.
   */
  readonly headers: boolean;
  /**
   * Whether the placeholder is also replaced in request bodies to the secret's hosts (inside
   * terminated TLS; `body-secrets.ts`). Toward any other host a body is never rewritten.
   */
  readonly body: boolean;
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
  | 'secret-wrong-host'
  | 'secret-wrong-header'
  | 'secret-in-target'
  | 'secret-not-over-tls'
  | 'secret-in-header-name'
  | 'secret-placeholder-altered'
  | 'secret-unusable';

/**
 * A placeholder form that is forwarded but recorded: base64 outside `Basic`, in a body, or in a
 * header of a secret that is not written into headers.
 */
export interface SuspectedPlaceholder {
  readonly secret: string;
  readonly form: 'base64' | 'body' | 'header';
}

/** A value form the proxy wrote into a request, and the placeholder form it stands for. */
export interface ProducedForm {
  readonly secret: string;
  readonly produced: string;
  readonly placeholder: string;
}

export type SecretOutcome =
  | {
      readonly ok: true;
      readonly headers: string[];
      readonly used: string[];
      /** Encoded forms of values the proxy wrote (Basic credentials), for the scrubber. */
      readonly produced: ProducedForm[];
      readonly suspected: SuspectedPlaceholder[];
    }
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
  readonly token: string;
  readonly decoded: string;
}

const BASIC = /^(basic)\s+([A-Za-z0-9+/=_-]+)\s*$/i;

function decodeBasic(value: string): Basic | null {
  const m = BASIC.exec(value);
  if (!m) return null;
  const token = m[2] ?? '';
  return {
    scheme: m[1] ?? 'Basic',
    token,
    decoded: Buffer.from(token, 'base64').toString('latin1'),
  };
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

/** The `{basic:<user>}` encodings a format writes, as value form and placeholder form. */
export function formatEncodings(
  format: string,
  value: string,
  placeholder: string,
): Array<{ produced: string; placeholder: string }> {
  const out: Array<{ produced: string; placeholder: string }> = [];
  for (const m of format.matchAll(/\{basic:([^{}]*)\}/g)) {
    const user = m[1] ?? '';
    out.push({
      produced: Buffer.from(`${user}:${value}`, 'latin1').toString('base64'),
      placeholder: Buffer.from(`${user}:${placeholder}`, 'latin1').toString('base64'),
    });
  }
  return out;
}

/** `text` percent-decoded until it no longer changes (at most four rounds). */
function decodeRepeatedly(text: string): string {
  let current = text;
  for (let round = 0; round < 4; round += 1) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      next = current.replace(/%([0-9a-f]{2})/gi, (_m, hex: string) =>
        String.fromCharCode(parseInt(hex, 16)),
      );
    }
    if (next === current) break;
    current = next;
  }
  return current;
}

/**
 * Stretches of base64 (standard and URL-safe) that appear whenever the placeholder is encoded,
 * at any of the three byte alignments; the groups touching the edges depend on the bytes around
 * it and are left out.
 */
export function base64Fragments(placeholder: string): string[] {
  const fragments = new Set<string>();
  for (let shift = 0; shift < 3; shift += 1) {
    const encoded = Buffer.concat([Buffer.alloc(shift), Buffer.from(placeholder, 'latin1')])
      .toString('base64')
      .replace(/=+$/, '');
    const core = encoded.slice(shift === 0 ? 0 : 4, encoded.length - 4);
    if (core.length < 8) continue;
    fragments.add(core);
    fragments.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...fragments];
}

/** Memo of `base64Fragments` by placeholder (placeholders are few and long-lived). */
const fragmentMemo = new Map<string, string[]>();

function fragmentsOf(placeholder: string): string[] {
  let fragments = fragmentMemo.get(placeholder);
  if (!fragments) {
    if (fragmentMemo.size >= 4096) fragmentMemo.clear();
    fragments = base64Fragments(placeholder);
    fragmentMemo.set(placeholder, fragments);
  }
  return fragments;
}

/** Header values Node writes as they are: tab, printable ASCII and obs-text. */
const SENDABLE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** The secret's value when it can travel in a header, else null (never throws). */
function readValue(secret: SecretBinding): string | null {
  let value: string;
  try {
    value = secret.value();
  } catch {
    return null;
  }
  return typeof value === 'string' && SENDABLE.test(value) ? value : null;
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
    'secret-in-header-name': `the placeholder of secret "${secret.name}" is in a header name; placeholders are replaced only in header values, and the request was refused`,
    'secret-placeholder-altered': `the placeholder of secret "${secret.name}" was sent altered (another letter case or percent-encoded); only the placeholder exactly as given is replaced, and the request was refused`,
    'secret-unusable': `the stored value or format of secret "${secret.name}" cannot be sent in an HTTP header (store it again with printable ASCII); the request was not sent`,
  };
  return { ok: false, secret: secret.name, reason, message: messages[reason] };
}

/**
 * Checks one request's target and raw header list (`[name, value, ...]`) for the workspace's
 * placeholders and answers the headers to send (placeholders replaced) or the refusal. Headers
 * without a placeholder pass unchanged, in order and case. A placeholder exactly as given, in a
 * header value (or inside Basic credentials), is replaced when the destination is one of its
 * hosts inside terminated TLS; in the target, in a header name, or altered (other case,
 * percent-encoded) it refuses the request wherever it goes. Base64 of a placeholder outside
 * `Basic` is forwarded and reported in `suspected`, and so is the placeholder of a secret whose
 * `headers` is false, in a header value in any form toward any host: it is never replaced there.
 */
export function applySecrets(
  secrets: readonly SecretBinding[],
  destination: SecretDestination,
  target: string,
  rawHeaders: readonly string[],
): SecretOutcome {
  const { host } = destination;
  if (secrets.length === 0)
    return { ok: true, headers: [...rawHeaders], used: [], produced: [], suspected: [] };
  const lowerTarget = `${target}\n${decodeRepeatedly(target)}`.toLowerCase();
  for (const secret of secrets) {
    if (lowerTarget.includes(secret.placeholder.toLowerCase()))
      return refused(secret, 'secret-in-target', host);
  }
  const headers: string[] = [];
  const used = new Set<string>();
  const produced: ProducedForm[] = [];
  const suspected: SuspectedPlaceholder[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const lower = name.toLowerCase();
    let value = rawHeaders[i + 1] ?? '';
    // The forms a placeholder is looked for in, lower-cased and decoded once per header (the
    // value's again only after a substitution changed it); a needle has no newline.
    const nameForms = `${lower}\n${decodeRepeatedly(lower).toLowerCase()}`;
    let valueForms: string | null = null;
    for (const secret of secrets) {
      const needle = secret.placeholder.toLowerCase();
      if (nameForms.includes(needle)) return refused(secret, 'secret-in-header-name', host);
      const inRaw = value.includes(secret.placeholder);
      const basic = inRaw ? null : decodeBasic(value);
      const inBasic = basic?.decoded.includes(secret.placeholder) ?? false;
      if (!inRaw && !inBasic) {
        valueForms ??= `${value}\n${decodeRepeatedly(value)}`.toLowerCase();
        const altered =
          valueForms.includes(needle) || (basic?.decoded.toLowerCase().includes(needle) ?? false);
        if (altered && secret.headers) return refused(secret, 'secret-placeholder-altered', host);
        if (altered) {
          suspected.push({ secret: secret.name, form: 'header' });
          continue;
        }
        if (fragmentsOf(secret.placeholder).some((f) => value.includes(f)))
          suspected.push({ secret: secret.name, form: 'base64' });
        continue;
      }
      if (!secret.headers) {
        suspected.push({ secret: secret.name, form: 'header' });
        continue;
      }
      if (!secret.hosts.includes(host)) return refused(secret, 'secret-wrong-host', host);
      if (destination.kind !== 'tls') return refused(secret, 'secret-not-over-tls', host);
      if (secret.header !== null && secret.header !== lower)
        return refused(secret, 'secret-wrong-header', host);
      const real = readValue(secret);
      if (real === null || (secret.format !== null && !SENDABLE.test(secret.format)))
        return refused(secret, 'secret-unusable', host);
      if (secret.format !== null) {
        value = renderFormat(secret.format, real);
        for (const e of formatEncodings(secret.format, real, secret.placeholder))
          produced.push({ secret: secret.name, ...e });
      } else if (inRaw) value = value.split(secret.placeholder).join(real);
      else if (basic) {
        value = encodeBasic(basic.scheme, basic.decoded.split(secret.placeholder).join(real));
        produced.push({
          secret: secret.name,
          produced: value.slice(basic.scheme.length + 1),
          placeholder: basic.token,
        });
      }
      if (!SENDABLE.test(value)) return refused(secret, 'secret-unusable', host);
      valueForms = null;
      used.add(secret.name);
    }
    headers.push(name, value);
  }
  return { ok: true, headers, used: [...used], produced, suspected };
}
