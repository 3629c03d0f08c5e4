import { createHash } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import {
  describePolicy,
  type AuditRecord,
  type EgressPolicy,
  type ListenerState,
  type SecretBinding,
  type WireSecret,
} from '@workcell/proxy';
import type { Logger } from 'pino';
import { systemClock, type Clock, type Timer } from '../time/clock.js';
import type { EgressAttachment, EgressGateway, EgressIdentity } from '../containers/egress.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { PolicyStore } from './policy-store.js';
import {
  ProxyProcess,
  ProxyUnavailableError,
  type ProxyProcessOptions,
  type ProxyProcessStatus,
} from './proxy-process.js';

/** How often every listener's policy and secrets are compared with what the child holds. */
export const RECONCILE_MS = 1_000;
/** How long `attach` waits for its listener, across restarts of the proxy process. */
const ATTACH_TIMEOUT_MS = 30_000;

/** One container's listener as the host holds it; the child holds a copy of its state. */
interface Held {
  readonly id: number;
  readonly socketPath: string;
  identity: EgressIdentity;
  /** The generation of the proxy process the listener is open in; 0: not open. */
  openIn: number;
  /** What was last sent, to send only changes. */
  sent: {
    policy: EgressPolicy | null;
    secrets: readonly SecretBinding[] | null;
    policyText: string | null;
    secretsDigest: string | null;
  };
  /** One push at a time per listener; the next one starts from what the last one left. */
  queue: Promise<void>;
  closed: boolean;
  /**
   * Another process answers on its socket path (another host took the container over while the
   * proxy process was down): never opened again here, and its socket file left alone.
   */
  foreign: boolean;
  /** Settles once the listener is open in some generation, or its opening failed. */
  opened: { resolve: () => void; reject: (err: Error) => void } | null;
}

interface Snapshot {
  policy: EgressPolicy;
  secrets: readonly SecretBinding[];
}

function proxyIdentity(identity: EgressIdentity): ListenerState['identity'] {
  return { workspaceId: identity.workspaceId ?? 'unassigned', containerId: identity.containerId };
}

/**
 * The `EgressGateway` over the proxy process: the host keeps every listener (its socket path,
 * identity, policy and secrets) and the child opens them. Policies and secrets are pushed when
 * they change (the stores' watchers), when a request of the workspace is audited (which also
 * reads a stale policy again, as the in-process proxy does per request) and by a reconcile every
 * second; a restarted child gets every listener back on the same socket path.
 */
export class ProcessEgressGateway implements EgressGateway {
  private readonly held = new Map<number, Held>();
  private nextId = 1;
  private readonly unwatch: Array<() => void> = [];
  private timer: Timer | null = null;

  private readonly proxy: ProxyProcess;
  private readonly policies: PolicyStore;
  private readonly secrets: SecretStore | null;
  private readonly logger: Logger;
  private readonly clock: Clock;

  constructor(deps: {
    /** How the proxy process is run; its starts re-create this gateway's listeners. */
    process: Omit<ProxyProcessOptions, 'started'>;
    policies: PolicyStore;
    secrets: SecretStore | null;
    logger: Logger;
    clock?: Clock;
  }) {
    this.policies = deps.policies;
    this.secrets = deps.secrets;
    this.logger = deps.logger;
    this.clock = deps.clock ?? systemClock;
    this.proxy = new ProxyProcess({
      ...deps.process,
      audit: (record) => {
        deps.process.audit(record);
        this.touched(record);
      },
      started: (generation) => this.reopenAll(generation),
    });
    const { policies, secrets } = deps;
    this.unwatch.push(
      policies.watch((workspaceId) => this.pushAll((h) => h.identity.workspaceId === workspaceId)),
    );
    if (secrets)
      this.unwatch.push(
        secrets.watch((tenant, wid) =>
          this.pushAll(
            (h) => h.identity.tenant === tenant && (wid === null || h.identity.workspaceId === wid),
          ),
        ),
      );
  }

  /**
   * Starts the proxy process and the reconcile; rejects when the process cannot be built (a CA
   * or an upstream it cannot use).
   */
  async start(): Promise<void> {
    await this.proxy.start();
    this.timer ??= this.clock.every(RECONCILE_MS, () => {
      void this.flush();
    });
  }

  /** After each start of the proxy process: every listener again. */
  private async reopenAll(generation: number): Promise<void> {
    const all = [...this.held.values()];
    await Promise.all(all.map((h) => this.open(h, generation)));
    if (generation > 1)
      this.logger.info(
        { generation, listeners: all.length },
        'egress listeners re-created in the new proxy process',
      );
  }

  /** A request of `workspaceId` was audited: stale policies and secrets are read again. */
  private touched(record: AuditRecord): void {
    for (const h of this.held.values()) {
      if (h.identity.workspaceId !== record.workspaceId) continue;
      this.policies.effective(h.identity.workspaceId);
      this.secrets?.bindings(h.identity.tenant, h.identity.workspaceId);
      void this.push(h);
    }
  }

  /**
   * Sends every listener's state that differs from the child's copy and waits for its answers
   * (the reconcile does it every second).
   */
  flush(): Promise<void> {
    return this.pushAll(() => true);
  }

  status(): ProxyProcessStatus {
    return this.proxy.status();
  }

  async attach(socketPath: string, identity: EgressIdentity): Promise<EgressAttachment> {
    const held: Held = {
      id: this.nextId++,
      socketPath,
      identity,
      openIn: 0,
      sent: { policy: null, secrets: null, policyText: null, secretsDigest: null },
      queue: Promise.resolve(),
      closed: false,
      foreign: false,
      opened: null,
    };
    const opened = new Promise<void>((resolve, reject) => {
      held.opened = { resolve, reject };
    });
    this.held.set(held.id, held);
    this.load(held);
    if (this.proxy.accepting) void this.open(held, this.proxy.current);
    const timer = this.clock.after(ATTACH_TIMEOUT_MS, () =>
      held.opened?.reject(
        new Error(`the egress listener on ${socketPath} did not open in ${ATTACH_TIMEOUT_MS} ms`),
      ),
    );
    try {
      await opened;
    } catch (err) {
      this.held.delete(held.id);
      await this.closeHeld(held);
      throw err;
    } finally {
      timer.cancel();
    }
    return {
      setIdentity: (next) => {
        held.identity = next;
        this.load(held);
        void this.push(held, true);
      },
      close: async () => {
        this.held.delete(held.id);
        await this.closeHeld(held);
      },
    };
  }

  async close(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    for (const stop of this.unwatch.splice(0)) stop();
    await this.proxy.stop();
    this.held.clear();
  }

  /**
   * Loads the workspace's policy and secrets, then pushes them (a policy's first load fires no
   * watcher; a secret scope's does). Until then the listener allows nothing and holds no secret.
   */
  private load(held: Held): void {
    const { tenant, workspaceId } = held.identity;
    if (!tenant || !workspaceId) return;
    this.secrets?.prime(tenant, workspaceId);
    this.policies
      .load(tenant, workspaceId)
      .then(() => this.push(held))
      .catch((err: unknown) =>
        this.logger.error(
          { workspaceId, err },
          'cannot load the egress policy; egress stays closed',
        ),
      );
  }

  /** What the listener applies now, from the stores' caches (nothing is read). */
  private current(held: Held): Snapshot {
    const { tenant, workspaceId } = held.identity;
    return {
      policy: this.policies.cached(workspaceId),
      secrets: this.secrets?.cachedBindings(tenant, workspaceId) ?? [],
    };
  }

  private open(held: Held, generation: number): Promise<void> {
    held.queue = held.queue.then(async () => {
      if (held.closed || held.foreign || held.openIn === generation) return;
      // Reopening after a restart: a socket that answers is no stale file of the dead process.
      if (held.openIn !== 0 && (await socketAnswers(held.socketPath))) {
        held.foreign = true;
        this.logger.info(
          { socketPath: held.socketPath },
          'egress socket held by another process now; not reopened',
        );
        return;
      }
      const snapshot = this.current(held);
      const { state, policyText, secretsDigest } = this.wire(held, snapshot);
      try {
        await this.proxy.request({
          type: 'listen',
          id: held.id,
          socketPath: held.socketPath,
          state,
        });
      } catch (err) {
        // A child that died meanwhile opens it when it restarts; any other failure (the socket's
        // directory refused) fails the attach, or is logged for a listener reopened.
        if (err instanceof ProxyUnavailableError) return;
        if (held.opened) held.opened.reject(err instanceof Error ? err : new Error(String(err)));
        else
          this.logger.error(
            { socketPath: held.socketPath, err },
            'reopening an egress listener failed',
          );
        return;
      }
      held.openIn = generation;
      this.remember(held, snapshot, policyText, secretsDigest);
      held.opened?.resolve();
      held.opened = null;
    });
    return held.queue;
  }

  /** Sends the listener's state when it differs from what the child holds (`force`: always). */
  private push(held: Held, force = false): Promise<void> {
    held.queue = held.queue.then(async () => {
      if (held.closed || held.foreign || held.openIn !== this.proxy.current) return;
      const snapshot = this.current(held);
      // The stores answer the same objects until something changes.
      if (!force && snapshot.policy === held.sent.policy && snapshot.secrets === held.sent.secrets)
        return;
      const { state, policyText, secretsDigest } = this.wire(held, snapshot);
      if (
        !force &&
        policyText === held.sent.policyText &&
        secretsDigest === held.sent.secretsDigest
      ) {
        this.remember(held, snapshot, policyText, secretsDigest);
        return;
      }
      try {
        await this.proxy.request({ type: 'update', id: held.id, state });
        this.remember(held, snapshot, policyText, secretsDigest);
      } catch (err) {
        // A dead child gets the state whole when it restarts; the reconcile tries again.
        this.logger.debug({ socketPath: held.socketPath, err }, 'egress listener update failed');
      }
    });
    return held.queue;
  }

  private pushAll(match: (held: Held) => boolean): Promise<void> {
    return Promise.all([...this.held.values()].filter(match).map((h) => this.push(h))).then(
      () => undefined,
    );
  }

  private wire(
    held: Held,
    snapshot: Snapshot,
  ): { state: ListenerState; policyText: string; secretsDigest: string } {
    const secrets = wireSecrets(snapshot.secrets);
    return {
      state: { identity: proxyIdentity(held.identity), policy: snapshot.policy, secrets },
      policyText: JSON.stringify(describePolicy(snapshot.policy)),
      // A digest, so no copy of the values is kept beside the sealed ones.
      secretsDigest: createHash('sha256').update(JSON.stringify(secrets)).digest('hex'),
    };
  }

  private remember(
    held: Held,
    snapshot: Snapshot,
    policyText: string,
    secretsDigest: string,
  ): void {
    held.sent = { ...snapshot, policyText, secretsDigest };
  }

  private async closeHeld(held: Held): Promise<void> {
    held.closed = true;
    await held.queue;
    if (held.foreign) return;
    if (held.openIn !== 0 && held.openIn === this.proxy.current && this.proxy.accepting) {
      await this.proxy.request({ type: 'close', id: held.id }).catch(async () => {
        await unlink(held.socketPath).catch(() => undefined);
      });
      return;
    }
    // No child holds it: the socket file a dead child left is removed here.
    await unlink(held.socketPath).catch(() => undefined);
  }
}

/** Whether a server answers on the Unix socket at `path` (a stale socket file refuses at once). */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (answers: boolean): void => {
      socket.destroy();
      resolve(answers);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    // A server too busy to accept within a second is still a server.
    socket.setTimeout(1_000, () => done(true));
  });
}

/** Bindings as they travel to the child: each value read now (a rotation is a new push). */
function wireSecrets(secrets: readonly SecretBinding[]): WireSecret[] {
  return secrets.map((s) => ({
    name: s.name,
    placeholder: s.placeholder,
    hosts: s.hosts,
    header: s.header,
    format: s.format,
    headers: s.headers,
    body: s.body,
    value: s.value(),
  }));
}
