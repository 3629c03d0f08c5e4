import type { IncomingMessage } from 'node:http';
import { forwardableHeaders } from '../http/headers.js';
import { secretAnswer, type ProxyAnswer } from '../http/responses.js';
import { PlaceholderWatch } from '../secrets/host-scrubs.js';
import { applySecrets } from '../secrets/secrets.js';
import type { RequestContext } from './context.js';

/**
 * A plain-HTTP request carrying a placeholder of the workspace is refused (secrets travel only
 * inside TLS the proxy terminates toward their own hosts); the refusal names the secret. Forms
 * the proxy forwards but records (base64 outside Basic, a placeholder in the body) go into the
 * request's audit record.
 */
export function refuseSecretsOutsideTls(
  ctx: RequestContext,
  host: string,
  req: IncomingMessage,
): ProxyAnswer | null {
  const secrets = ctx.secrets();
  const outcome = applySecrets(
    secrets,
    { kind: 'plain', host },
    req.url ?? '',
    forwardableHeaders(req.rawHeaders),
  );
  if (outcome.ok) {
    ctx.entry.record.suspected = [...outcome.suspected];
    return null;
  }
  ctx.entry.record.secrets = [outcome.secret];
  ctx.core.logger.warn(
    { workspaceId: ctx.identity.workspaceId, host, secret: outcome.secret, reason: outcome.reason },
    'secret placeholder refused',
  );
  return secretAnswer(outcome.reason, outcome.message);
}

/**
 * Records a placeholder of the workspace seen in the request body (forwarded, never replaced).
 * Call it in the tick the body is piped on: a `data` listener added earlier would start the
 * body flowing before anything reads it.
 */
export function watchBody(ctx: RequestContext, req: IncomingMessage): void {
  const secrets = ctx.secrets();
  if (secrets.length === 0) return;
  const watch = new PlaceholderWatch(secrets);
  req.on('data', (chunk: Buffer) => watch.feed(chunk));
  req.once('end', () => ctx.entry.record.suspected.push(...watch.suspects()));
}
