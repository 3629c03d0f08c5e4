import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { IpAddress } from '@workcell/proxy';
import type { WebhookTarget } from './url-policy.js';

/** Response bytes read at most; the rest is discarded with the connection. */
export const MAX_RESPONSE_BYTES = 1024;

export interface AttemptRequest {
  target: WebhookTarget;
  /** The checked addresses; the connection goes to the first, never to a fresh resolution. */
  addresses: readonly IpAddress[];
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

/** How one attempt went: a status (2xx is success), or an error before any status. */
export type AttemptResult =
  { ok: boolean; status: number; error: null } | { ok: false; status: null; error: string };

/** A lookup that answers the checked address whatever it is asked (DNS rebinding stops here). */
function pinnedLookup(address: IpAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: address.text, family: address.family }]);
    else callback(null, address.text, address.family);
  };
}

/**
 * One POST of a delivery: to the checked address, with the whole exchange bounded by
 * `timeoutMs`, redirects not followed (a 3xx is a failed attempt), and at most
 * MAX_RESPONSE_BYTES of the response read. Never throws.
 */
export function attemptDelivery(req: AttemptRequest): Promise<AttemptResult> {
  const { target, addresses, headers, body, timeoutMs } = req;
  const address = addresses[0];
  if (!address) return Promise.resolve({ ok: false, status: null, error: 'no address' });
  const request = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const finish = (result: AttemptResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = request({
      method: 'POST',
      host: target.host.kind === 'ip' ? address.text : target.host.value,
      port: target.port,
      path: `${target.url.pathname}${target.url.search}`,
      headers: {
        ...headers,
        host: target.url.host,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
      },
      lookup: pinnedLookup(address),
      // TLS verifies the name in the URL, whatever address it connects to.
      ...(target.host.kind === 'name' ? { servername: target.host.value } : {}),
      agent: false,
    });
    const timer = setTimeout(() => {
      finish({ ok: false, status: null, error: `no answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => finish({ ok: false, status: null, error: err.message }));
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) res.destroy();
      });
      const done = (): void => {
        finish({ ok: status >= 200 && status < 300, status, error: null });
        req.destroy();
      };
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
    req.end(body);
  });
}
