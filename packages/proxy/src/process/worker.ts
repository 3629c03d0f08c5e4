import { pino, type Logger } from 'pino';
import type { AwsCredentials } from '../bedrock/signer.js';
import { CredentialProxy, type EgressListener } from '../listener/proxy.js';
import type { SecretBinding } from '../secrets/secrets.js';
import { loadOrCreateCa } from '../tls/ca.js';
import { loadUpstreamTrust } from '../tls/trust.js';
import { ipcCredentials } from './ipc-credentials.js';
import type {
  ChildMessage,
  ListenerState,
  ParentMessage,
  ProxyInit,
  ProxyRequest,
  WireSecret,
} from './messages.js';

/** One listener as the child holds it: the host's last pushed state, read on every request. */
interface Held {
  state: ListenerState;
  secrets: readonly SecretBinding[];
  /** Null until the socket listens. */
  listener: EgressListener | null;
  /** Closed before it finished listening: closed as soon as it does. */
  closed: boolean;
}

function bindings(secrets: readonly WireSecret[]): SecretBinding[] {
  return secrets.map((s) => {
    const { value, ...rest } = s;
    return { ...rest, value: () => value };
  });
}

/** A pino logger whose lines go to the host, which logs them with its own destination. */
function ipcLogger(level: string, send: (message: ChildMessage) => void): Logger {
  return pino(
    { level, base: null, timestamp: false },
    { write: (line: string) => send({ type: 'log', line: line.trimEnd() }) },
  );
}

/**
 * The proxy process's side of the IPC protocol: builds the `CredentialProxy` from the `init`
 * message, opens, updates and closes listeners as the host asks, and sends audit records, log
 * lines and credential questions back. Transport-free (`send` and `handle`), so it runs in a test
 * as it runs behind `process.send`.
 */
export class ProxyWorker {
  private proxy: CredentialProxy | null = null;
  private logger: Logger | null = null;
  private readonly held = new Map<number, Held>();
  private readonly credentialQuestions = new Map<
    number,
    { resolve: (c: AwsCredentials) => void; reject: (e: Error) => void }
  >();
  private nextQuestion = 1;

  constructor(
    private readonly send: (message: ChildMessage) => void,
    private readonly exit: (code: number) => void,
  ) {}

  /** Handles one message of the host; never throws (a failure is answered or logged). */
  handle(message: ParentMessage): void {
    switch (message.type) {
      case 'init':
        this.init(message.init).then(
          () => this.send({ type: 'ready' }),
          (err: unknown) => {
            this.send({ type: 'fatal', message: errorText(err) });
            this.exit(1);
          },
        );
        return;
      case 'credentials-reply': {
        const question = this.credentialQuestions.get(message.requestId);
        this.credentialQuestions.delete(message.requestId);
        if (!question) return;
        if (message.credentials) question.resolve(message.credentials);
        else question.reject(new Error(message.error ?? 'the host has no AWS credentials'));
        return;
      }
      case 'shutdown': {
        // Every listener closed, the answer sent: nothing is left to serve.
        const done = (err?: unknown): void => {
          this.send({
            type: 'reply',
            requestId: message.requestId,
            error: err === undefined ? null : errorText(err),
          });
          this.exit(0);
        };
        this.request(message).then(() => done(), done);
        return;
      }
      case 'listen':
      case 'update':
      case 'close':
        this.request(message).then(
          () => this.send({ type: 'reply', requestId: message.requestId, error: null }),
          (err: unknown) =>
            this.send({ type: 'reply', requestId: message.requestId, error: errorText(err) }),
        );
        return;
    }
  }

  private async init(init: ProxyInit): Promise<void> {
    if (this.proxy) throw new Error('the proxy process was initialised twice');
    const logger = ipcLogger(init.logLevel, this.send);
    const interception = init.interception
      ? {
          ca: await loadOrCreateCa(init.interception.caPaths),
          upstreamTrust: await loadUpstreamTrust(init.interception.upstreamCaFile),
        }
      : null;
    const apiKey = init.anthropic?.apiKey ?? undefined;
    this.proxy = new CredentialProxy({
      anthropic: init.anthropic
        ? {
            upstream: new URL(init.anthropic.upstream),
            apiKey: () => apiKey,
            operations: init.anthropic.operations,
          }
        : null,
      bedrock: init.bedrock
        ? {
            upstream: new URL(init.bedrock.upstream),
            region: init.bedrock.region,
            maxBodyBytes: init.bedrock.maxBodyBytes,
            credentials: ipcCredentials(() => this.askCredentials()),
          }
        : null,
      limits: init.limits,
      ...(init.resolveTimeoutMs !== undefined ? { resolveTimeoutMs: init.resolveTimeoutMs } : {}),
      ...(init.dialTimeoutMs !== undefined ? { dialTimeoutMs: init.dialTimeoutMs } : {}),
      audit: (record) => this.send({ type: 'audit', record }),
      logger,
      interception,
    });
    this.logger = logger;
  }

  private askCredentials(): Promise<AwsCredentials> {
    const requestId = this.nextQuestion++;
    return new Promise((resolve, reject) => {
      this.credentialQuestions.set(requestId, { resolve, reject });
      this.send({ type: 'credentials', requestId });
    });
  }

  private requireProxy(): CredentialProxy {
    if (!this.proxy) throw new Error('the proxy process is not initialised');
    return this.proxy;
  }

  private async request(message: ProxyRequest): Promise<void> {
    switch (message.type) {
      case 'listen': {
        const proxy = this.requireProxy();
        if (this.held.has(message.id)) throw new Error(`listener ${message.id} exists`);
        // Registered before it listens, so an update or close sent meanwhile finds it.
        const held: Held = {
          state: message.state,
          secrets: bindings(message.state.secrets),
          listener: null,
          closed: false,
        };
        this.held.set(message.id, held);
        let listener: EgressListener;
        try {
          listener = await proxy.listen(
            message.socketPath,
            message.state.identity,
            () => held.state.policy,
            () => held.secrets,
          );
        } catch (err) {
          this.held.delete(message.id);
          throw err;
        }
        held.listener = listener;
        if (held.closed) await listener.close();
        else if (held.state.identity !== message.state.identity)
          listener.setIdentity(held.state.identity);
        return;
      }
      case 'update': {
        const held = this.held.get(message.id);
        if (!held) throw new Error(`no listener ${message.id}`);
        const before = held.state.identity;
        held.state = message.state;
        held.secrets = bindings(message.state.secrets);
        if (!held.listener) return;
        const next = message.state.identity;
        if (before.workspaceId !== next.workspaceId || before.containerId !== next.containerId)
          held.listener.setIdentity(next);
        held.listener.revalidate();
        return;
      }
      case 'close': {
        const held = this.held.get(message.id);
        this.held.delete(message.id);
        if (!held) return;
        held.closed = true;
        await held.listener?.close();
        return;
      }
      case 'shutdown':
        await this.proxy?.close();
        this.held.clear();
        this.logger?.flush();
        return;
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
