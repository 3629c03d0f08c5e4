import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SignatureV4 } from '@smithy/signature-v4';
import type { Logger } from 'pino';
import type { AuditEntry, AuditRecord, Identity } from '../audit/audit.js';
import type { UpstreamAgents } from '../http/upstream-agents.js';
import { sendAnswer, writeRawAnswer, type ProxyAnswer } from '../http/responses.js';
import type { BodyBudget } from '../limits/body-budget.js';
import type { ProxyLimits } from '../limits/limits.js';
import type { ResolveOptions } from '../net/resolve.js';
import type { EgressPolicy } from '../policy/policy.js';
import type { AnthropicOperation } from './anthropic-operations.js';
import type { TunnelSet } from './tunnels.js';
import type { ProducedForms } from '../secrets/host-scrubs.js';
import type { SecretSource } from '../secrets/secrets.js';
import type { Interception } from '../tls/options.js';

export interface AnthropicRuntime {
  readonly upstream: URL;
  readonly apiKey: () => string | undefined;
  /** What the route forwards; anything else answers 404. */
  readonly operations: readonly AnthropicOperation[];
}

export interface BedrockRuntime {
  readonly upstream: URL;
  readonly signer: SignatureV4;
  readonly maxBodyBytes: number;
}

/** What every request handler shares for the life of the proxy. */
export interface ProxyCore {
  readonly anthropic: AnthropicRuntime | null;
  readonly bedrock: BedrockRuntime | null;
  readonly resolve: ResolveOptions;
  readonly dialTimeoutMs: number;
  readonly limits: ProxyLimits;
  /** Request bodies buffered in memory, across every listener. */
  readonly bodies: BodyBudget;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly audit: (record: AuditRecord) => void;
  /** Terminating TLS for secret hosts; null: every tunnel is opaque. */
  readonly interception: Interception | null;
}

/** One request or tunnel: who is calling, their policy as of now, and its audit record. */
export interface RequestContext {
  readonly core: ProxyCore;
  readonly identity: Identity;
  readonly policy: () => EgressPolicy;
  /** The workspace's secrets as of now. */
  readonly secrets: SecretSource;
  readonly entry: AuditEntry;
  /** The calling listener's own upstream connections (never shared with another workspace). */
  readonly upstreams: UpstreamAgents;
  /** The calling listener's open tunnels. */
  readonly tunnels: TunnelSet;
  /** Encoded value forms the calling listener's requests carried, scrubbed from responses. */
  readonly produced: ProducedForms;
}

function record(ctx: RequestContext, answer: ProxyAnswer): void {
  ctx.entry.record.decision = 'deny';
  ctx.entry.record.reason = answer.reason;
  ctx.entry.record.status = answer.status;
  if (answer.denied) {
    const { host, port, rule } = ctx.entry.record;
    ctx.core.logger.info(
      { workspaceId: ctx.identity.workspaceId, host, port, rule, reason: answer.reason },
      'egress denied',
    );
  }
}

/** Answers a refusal or denial on an HTTP response and records it. */
export function refuse(ctx: RequestContext, res: ServerResponse, answer: ProxyAnswer): void {
  record(ctx, answer);
  sendAnswer(res, answer);
}

/** Answers a refusal or denial on a raw socket (CONNECT) and records it. */
export function refuseRaw(ctx: RequestContext, socket: Duplex, answer: ProxyAnswer): void {
  record(ctx, answer);
  writeRawAnswer(socket, answer);
}
