import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CONTAINER_STATES, type ContainerState } from '../state/state-store.js';
import type { ExecObserver } from '../exec/exec-service.js';
import type { RunObserver } from '../execute/execute-service.js';
import type { SyncObserver } from '../workspace/object-store-sync.js';
import type { WebhookObserver } from '../webhooks/dispatcher.js';

/** Reads the container records at scrape time (the pool gauge). */
export type ContainerStateSource = () => Promise<readonly { state: ContainerState }[]>;

/**
 * The host's Prometheus metrics, on a registry of its own (never prom-client's global one, so
 * two hosts in one process do not share counters). Services report through the observer
 * methods; the pool gauge reads the StateStore when scraped.
 */
export class WorkcellMetrics implements RunObserver, ExecObserver, WebhookObserver {
  readonly registry = new Registry();

  private readonly runs = new Counter({
    name: 'workcell_runs_total',
    help: 'Runs ended, by outcome: completed, interrupted, or the run.failed error code.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly runDuration = new Histogram({
    name: 'workcell_run_duration_seconds',
    help: 'Wall-clock time of a run, from acceptance to its terminal event.',
    labelNames: ['outcome'] as const,
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  private readonly execs = new Counter({
    name: 'workcell_execs_total',
    help: 'Commands run through the exec API that ended, by outcome: exited, signal (a signal ended it), timeout, failed (its output broke off or its files were not synced).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly execDuration = new Histogram({
    name: 'workcell_exec_duration_seconds',
    help: 'Wall-clock time of a command run through the exec API, from its start to its end.',
    labelNames: ['outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 600],
    registers: [this.registry],
  });
  private readonly acquire = new Histogram({
    name: 'workcell_container_acquire_seconds',
    help: "Time to get a run's container, by source: assigned (the workspace's own), warm (claimed from the pool), cold (created).",
    labelNames: ['source'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly syncBytes = new Counter({
    name: 'workcell_sync_bytes_total',
    help: 'Bytes moved between the object store and container slots, by direction (in, out).',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  private readonly syncDuration = new Histogram({
    name: 'workcell_sync_duration_seconds',
    help: 'Time of one workspace sync, by direction (in, out).',
    labelNames: ['direction'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly proxyRequests = new Counter({
    name: 'workcell_proxy_requests_total',
    help: 'Requests from containers through the credential proxy, by decision (allow, deny).',
    labelNames: ['decision'] as const,
    registers: [this.registry],
  });
  private readonly proxyRestarts = new Counter({
    name: 'workcell_proxy_restarts_total',
    help: 'Times the egress proxy process died and the host started it again.',
    registers: [this.registry],
  });
  private readonly secretSubstitutions = new Counter({
    name: 'workcell_secret_substitutions_total',
    help: 'Secret values the proxy wrote into requests toward their hosts (one per secret per request).',
    registers: [this.registry],
  });
  private readonly secretRefusals = new Counter({
    name: 'workcell_secret_refusals_total',
    help: 'Requests refused for carrying a secret placeholder where it may not go, by reason (secret-wrong-host, secret-wrong-header, secret-in-target, secret-not-over-tls).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly webhookAttempts = new Counter({
    name: 'workcell_webhook_attempts_total',
    help: 'Webhook HTTP attempts, by result: 2xx, 3xx, 4xx, 5xx, error (no answer) or refused (URL policy).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  private readonly webhookDeliveries = new Counter({
    name: 'workcell_webhook_deliveries_total',
    help: 'Webhook deliveries after an attempt, by outcome: delivered, retried, failed (out of attempts) or dropped (endpoint removed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly agentReadyRuns = new Counter({
    name: 'workcell_agent_ready_runs_total',
    help: "Runs by where their SDK turn went: result `used` (the agent's ready Claude Code process) or `fallback` (a fresh one), with the fallback's reason (disabled, none, options_changed, session_changed, workspace_changed, start_failed, process_failed).",
    labelNames: ['result', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly terminalsOpen = new Gauge({
    name: 'workcell_terminals_open',
    help: 'Terminals (interactive shells in workspace containers) open on this host now.',
    registers: [this.registry],
  });
  private readonly sseClients = new Gauge({
    name: 'workcell_sse_clients',
    help: 'Server-Sent Event connections open now.',
    registers: [this.registry],
  });

  constructor(
    containers: ContainerStateSource,
    options: {
      defaultMetrics?: boolean;
      /** How many of this host's containers have a ready Claude Code process (as last counted). */
      readyAgents?: () => number;
    } = {},
  ) {
    if (options.readyAgents) this.countReadyAgents(options.readyAgents);
    new Gauge({
      name: 'workcell_containers',
      help: 'Containers known to the state store, by lifecycle state.',
      labelNames: ['state'] as const,
      registers: [this.registry],
      async collect() {
        const counts = new Map<ContainerState, number>(CONTAINER_STATES.map((s) => [s, 0]));
        for (const r of await containers()) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    if (options.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'workcell_' });
  }
  /**
   * Reports how many of this host's containers have a ready Claude Code process
   * (`workcell_agent_ready`), read from the host's count (`containers/ready-count.ts`) at scrape
   * time without asking any agent; registered once the count exists.
   */
  countReadyAgents(readyAgents: () => number): void {
    new Gauge({
      name: 'workcell_agent_ready',
      help: 'Containers whose agent has a Claude Code process started and waiting for the next run.',
      registers: [this.registry],
      collect() {
        this.set(readyAgents());
      },
    });
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  containerAcquired(source: string, durationMs: number): void {
    this.acquire.observe({ source }, durationMs / 1000);
  }

  runEnded(outcome: string, durationMs: number): void {
    this.runs.inc({ outcome });
    this.runDuration.observe({ outcome }, durationMs / 1000);
  }

  execEnded(outcome: string, durationMs: number): void {
    this.execs.inc({ outcome });
    this.execDuration.observe({ outcome }, durationMs / 1000);
  }

  agentReady(used: boolean, reason: string | null): void {
    this.agentReadyRuns.inc(
      used ? { result: 'used', reason: '' } : { result: 'fallback', reason: reason ?? 'unknown' },
    );
  }

  /** The `observe` callback of ObjectStoreWorkspaceSync. */
  readonly synced: SyncObserver = (e) => {
    this.syncBytes.inc({ direction: e.direction }, e.bytes);
    this.syncDuration.observe({ direction: e.direction }, e.durationMs / 1000);
  };

  proxyRequest(decision: string): void {
    this.proxyRequests.inc({ decision });
  }

  proxyRestarted(): void {
    this.proxyRestarts.inc();
  }

  /** Counts what one proxy audit record says about secrets (substituted or refused). */
  proxySecrets(record: { decision: string; reason: string; secrets: readonly string[] }): void {
    if (record.secrets.length === 0) return;
    if (record.decision === 'allow') this.secretSubstitutions.inc(record.secrets.length);
    else if (record.reason.startsWith('secret-'))
      this.secretRefusals.inc({ reason: record.reason });
  }

  webhookAttempt(result: string): void {
    this.webhookAttempts.inc({ result });
  }

  webhookDelivery(outcome: 'delivered' | 'retried' | 'failed' | 'dropped'): void {
    this.webhookDeliveries.inc({ outcome });
  }

  terminalOpened(): void {
    this.terminalsOpen.inc();
  }

  terminalClosed(): void {
    this.terminalsOpen.dec();
  }

  sseOpened(): void {
    this.sseClients.inc();
  }

  sseClosed(): void {
    this.sseClients.dec();
  }
}
