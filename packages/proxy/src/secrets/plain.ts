import type { IncomingMessage } from 'node:http';
import type { RequestContext } from '../context.js';
import { forwardableHeaders } from '../http/headers.js';
import { denial, type ProxyAnswer } from '../http/responses.js';
import { applySecrets } from './secrets.js';

/**
 * A plain-HTTP request carrying a placeholder of the workspace is refused (secrets travel only
 * inside TLS the proxy terminates toward their own hosts); the refusal names the secret.
 */
export function refuseSecretsOutsideTls(
  ctx: RequestContext,
  host: string,
  req: IncomingMessage,
): ProxyAnswer | null {
  const outcome = applySecrets(
    ctx.secrets(),
    { kind: 'plain', host },
    req.url ?? '',
    forwardableHeaders(req.rawHeaders),
  );
  if (outcome.ok) return null;
  ctx.entry.record.secrets = [outcome.secret];
  ctx.core.logger.warn(
    { workspaceId: ctx.identity.workspaceId, host, secret: outcome.secret },
    'secret placeholder refused',
  );
  return denial(outcome.reason, outcome.message);
}
