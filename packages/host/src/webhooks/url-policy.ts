import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import { WorkcellError } from '@workcell/protocol';
import {
  canonicalHost,
  classifyAddress,
  parseIpAddress,
  withTimeout,
  type CanonicalHost,
  type IpAddress,
} from '@workcell/proxy';

/**
 * Where a webhook may be sent: an absolute `http` or `https` URL without credentials or
 * fragment, whose host is (and resolves to) public addresses only. Private, loopback,
 * link-local, carrier-grade NAT, reserved and this host's own addresses are allowed only with
 * `WORKCELL_WEBHOOK_ALLOW_PRIVATE=true`; cloud metadata addresses never. The address
 * classification is the credential proxy's (`@workcell/proxy`), so both egress paths agree.
 */

/** How long resolving a webhook host may take. */
export const WEBHOOK_RESOLVE_TIMEOUT_MS = 5_000;

export interface WebhookTarget {
  url: URL;
  host: CanonicalHost;
  port: number;
}

/** Resolves a name to address texts; injectable for tests. */
export type WebhookResolver = (host: string) => Promise<string[]>;

export const systemWebhookResolver: WebhookResolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface AddressPolicy {
  allowPrivate: boolean;
  resolve: WebhookResolver;
  /** This host's interface addresses (canonical text). */
  localAddresses: () => ReadonlySet<string>;
  resolveTimeoutMs: number;
}

export function systemLocalAddresses(): ReadonlySet<string> {
  const texts = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((info) => parseIpAddress(info.address.replace(/%.*$/, ''))?.text)
    .filter((t): t is string => t !== undefined);
  return new Set(texts);
}

function invalid(message: string): WorkcellError {
  return new WorkcellError('webhook_url_invalid', message);
}

function forbidden(message: string): WorkcellError {
  return new WorkcellError('webhook_url_forbidden', message);
}

/** Parses a webhook URL, refusing anything but an absolute http(s) URL (`webhook_url_invalid`). */
export function parseWebhookUrl(raw: string): WebhookTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid('the webhook URL is not an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw invalid('a webhook URL is http or https');
  if (url.username !== '' || url.password !== '')
    throw invalid('a webhook URL carries no credentials');
  if (url.hash !== '' || raw.includes('#')) throw invalid('a webhook URL has no fragment');
  let host: CanonicalHost;
  try {
    host = canonicalHost(url.hostname);
  } catch (err) {
    throw invalid(`the webhook URL's host is refused: ${(err as Error).message}`);
  }
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { url, host, port };
}

/**
 * The addresses to send to: the host's own (an IP literal) or every address its name resolves
 * to, each checked. Throws `webhook_url_forbidden` when any address is refused or the name does
 * not resolve (fails closed). The caller connects to exactly these addresses, so a name that
 * resolves differently a moment later (DNS rebinding) is never dialled unchecked.
 */
export async function checkedAddresses(
  target: WebhookTarget,
  policy: AddressPolicy,
): Promise<IpAddress[]> {
  let addresses: IpAddress[];
  if (target.host.kind === 'ip') {
    addresses = [target.host.address];
  } else {
    let answers: string[];
    try {
      answers = await withTimeout(policy.resolve(target.host.value), policy.resolveTimeoutMs);
    } catch {
      throw forbidden(`${target.host.value} did not resolve`);
    }
    const parsed = answers.map((text) => parseIpAddress(text.replace(/%.*$/, '')));
    if (parsed.length === 0 || parsed.some((a) => a === null))
      throw forbidden(`${target.host.value} has no usable address`);
    addresses = parsed as IpAddress[];
  }
  const local = policy.localAddresses();
  for (const address of addresses) {
    const cls = classifyAddress(address, local);
    if (cls === 'public') continue;
    if (cls === 'metadata') throw forbidden('a webhook URL never reaches a metadata address');
    if (!policy.allowPrivate)
      throw forbidden(
        `a webhook URL reaches only public addresses (${target.host.value} is ${cls}; WORKCELL_WEBHOOK_ALLOW_PRIVATE allows it)`,
      );
  }
  return addresses;
}
