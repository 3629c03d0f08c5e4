/**
 * The IPC messages between the host and the proxy process (`fork` with `serialization:
 * 'advanced'`, so `Uint8Array`s of a policy and `Date`s of credentials travel as they are). The
 * host holds every piece of state (listeners, policies, secrets, credentials) and pushes it; the
 * child holds copies and answers each request with a `reply`.
 */
import type { AuditRecord, Identity } from '../audit/audit.js';
import type { AwsCredentials } from '../bedrock/signer.js';
import type { ProxyLimits } from '../limits/limits.js';
import type { EgressPolicy } from '../policy/policy.js';
import type { AnthropicOperation } from '../routes/anthropic-operations.js';
import type { CaPaths } from '../tls/ca.js';

/** Everything the proxy process is built from; nothing comes from its environment. */
export interface ProxyInit {
  /** pino level of the child's logger (its lines are logged again by the host). */
  readonly logLevel: string;
  readonly anthropic: {
    readonly upstream: string;
    /** The key the route adds; null: the route answers 401. */
    readonly apiKey: string | null;
    /** Operations added to the built-in ones. */
    readonly operations: readonly AnthropicOperation[];
  } | null;
  /** Requests are signed with credentials the child asks the host for (`credentials`). */
  readonly bedrock: {
    readonly upstream: string;
    readonly region: string;
    readonly maxBodyBytes: number;
  } | null;
  readonly limits: Partial<ProxyLimits>;
  readonly resolveTimeoutMs?: number;
  readonly dialTimeoutMs?: number;
  /** Terminating TLS for secret hosts: the CA's directories and the operator's upstream CA file. */
  readonly interception: {
    readonly caPaths: CaPaths;
    readonly upstreamCaFile: string | null;
  } | null;
}

/** One secret of a listener's workspace, value included (the child holds no store). */
export interface WireSecret {
  readonly name: string;
  readonly placeholder: string;
  readonly hosts: readonly string[];
  readonly header: string | null;
  readonly format: string | null;
  readonly headers: boolean;
  readonly body: boolean;
  readonly value: string;
}

/** What one listener applies: who calls, its policy and its secrets. */
export interface ListenerState {
  readonly identity: Identity;
  readonly policy: EgressPolicy;
  readonly secrets: readonly WireSecret[];
}

/** Host to child, answered with a `reply` carrying the same `requestId`. */
export type ProxyRequest =
  | {
      readonly type: 'listen';
      readonly requestId: number;
      readonly id: number;
      readonly socketPath: string;
      readonly state: ListenerState;
    }
  /** Replaces what a listener applies; its open tunnels are re-decided against the new policy. */
  | {
      readonly type: 'update';
      readonly requestId: number;
      readonly id: number;
      readonly state: ListenerState;
    }
  | { readonly type: 'close'; readonly requestId: number; readonly id: number }
  /** Closes every listener, answers, then exits 0. */
  | { readonly type: 'shutdown'; readonly requestId: number };

/** Host to child. */
export type ParentMessage =
  | { readonly type: 'init'; readonly init: ProxyInit }
  | ProxyRequest
  | {
      readonly type: 'credentials-reply';
      readonly requestId: number;
      readonly credentials: AwsCredentials | null;
      readonly error: string | null;
    };

/** Child to host. */
export type ChildMessage =
  /** The proxy is built; requests may follow. */
  | { readonly type: 'ready' }
  /** The proxy cannot be built from `init`; the child exits 1 after sending it. */
  | { readonly type: 'fatal'; readonly message: string }
  | { readonly type: 'reply'; readonly requestId: number; readonly error: string | null }
  | { readonly type: 'audit'; readonly record: AuditRecord }
  /** One pino line of the child's logger (JSON). */
  | { readonly type: 'log'; readonly line: string }
  /** Asks the host's AWS credential chain for credentials to sign a Bedrock request. */
  | { readonly type: 'credentials'; readonly requestId: number };
