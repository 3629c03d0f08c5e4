import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { startMockModel, type MockModel } from '@workcell/mock-model';
import { CredentialProxy, parseEgressPatterns, parseCidrList, type AuditRecord } from '@workcell/proxy';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApi } from './api/app.js';
import { TokenAuthenticator } from './auth/tokens.js';
import { Catalog } from './catalog/catalog.js';
import type { ResolvedConfig } from './config/load.js';
import { DockerRuntime } from './containers/docker-runtime.js';
import { Orchestrator, systemClock, type Clock } from './containers/orchestrator.js';
import type { ContainerRuntime } from './containers/runtime.js';
import { SlotStore } from './containers/slots.js';
import { AuditTrail, ProxyEgressGateway } from './egress/gateway.js';
import { PolicyStore } from './egress/policy-store.js';
import { ExecuteService } from './execute/execute-service.js';
import { RunEventLog } from './execute/run-events.js';
import { ObjectStoreWorkspaceSync } from './execute/object-store-sync.js';
import { StoreFilesService } from './files/store-files-service.js';
import { createStateStore } from './state/index.js';
import type { StateStore } from './state/state-store.js';
import { createObjectStore } from './storage/index.js';
import type { ObjectStore } from './storage/object-store.js';

/** Log paths that may carry secrets; pino replaces them before anything is written. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'apiKey',
  'secretAccessKey',
  'sessionToken',
  'token',
];

export function createLogger(level: ResolvedConfig['logLevel'], destination?: pino.DestinationStream): Logger {
  return pino({ name: 'workcell', level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}

export interface WorkcellOptions {
  logger?: Logger;
  /** Run the built-in mock model in-process and send model traffic to it. */
  mockModel?: boolean;
  clock?: Clock;
  /** Replace the container runtime (a Kubernetes runtime, or a test's instrumented Docker). */
  runtime?: ContainerRuntime;
}

/** A wired Workcell host: every service built once, by constructor injection. */
export interface Workcell {
  config: ResolvedConfig;
  logger: Logger;
  api: FastifyInstance;
  state: StateStore;
  objects: ObjectStore;
  runtime: ContainerRuntime;
  orchestrator: Orchestrator;
  execute: ExecuteService;
  catalog: Catalog;
  audit: AuditTrail;
  policies: PolicyStore;
  mockModel: MockModel | null;
  /** Tokens generated at start when none were configured (token -> tenant). */
  generatedToken: string | null;
  /** Starts listening; answers the base URL. */
  listen(): Promise<string>;
  /** Stops accepting runs, waits up to `deadlineMs` for runs in progress, then closes everything. */
  close(deadlineMs?: number): Promise<void>;
}

/** The composition root: builds every service of the host from one configuration. */
export async function createWorkcell(config: ResolvedConfig, options: WorkcellOptions = {}): Promise<Workcell> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });

  let mockModel: MockModel | null = null;
  let anthropicUpstream = config.anthropicUpstream;
  let bedrockUpstream = config.bedrockUpstream;
  if (options.mockModel) {
    mockModel = await startMockModel({ logger: logger.child({ component: 'mock-model' }) });
    anthropicUpstream = mockModel.url;
    bedrockUpstream = mockModel.url;
  }

  const objects = createObjectStore({
    dataDir,
    s3: config.s3Bucket
      ? { bucket: config.s3Bucket, endpoint: config.s3Endpoint, prefix: config.s3Prefix, region: config.awsRegion }
      : undefined,
    logger,
  });
  const state = createStateStore({ redisUrl: config.redisUrl, logger });
  const runtime = options.runtime ?? new DockerRuntime(logger.child({ component: 'docker' }));

  const audit = new AuditTrail();
  const policies = new PolicyStore({
    allow: parseEgressPatterns(config.egressAllow, 'WORKCELL_EGRESS_ALLOW'),
    deny: parseEgressPatterns(config.egressDeny, 'WORKCELL_EGRESS_DENY'),
    allowPrivate: parseCidrList(config.egressAllowPrivate, 'WORKCELL_EGRESS_ALLOW_PRIVATE'),
  }, objects, logger.child({ component: 'egress-policy' }));
  const auditLogger = logger.child({ component: 'egress-audit' });
  const proxy = new CredentialProxy({
    anthropic: { upstream: new URL(anthropicUpstream), apiKey: () => config.anthropicApiKey },
    bedrock: {
      upstream: new URL(bedrockUpstream),
      region: config.awsRegion,
      credentials: fromNodeProviderChain(),
      maxBodyBytes: 20 * 1024 * 1024,
    },
    audit: (record: AuditRecord) => {
      audit.record(record);
      auditLogger.info({ audit: record }, 'egress');
    },
    logger: logger.child({ component: 'proxy' }),
  });
  const gateway = new ProxyEgressGateway(proxy, policies);

  const slots = new SlotStore(dataDir);
  const orchestrator = new Orchestrator({
    runtime,
    state,
    slots,
    gateway,
    clock,
    logger: logger.child({ component: 'orchestrator' }),
    settings: {
      image: config.image,
      imageVersion: config.version,
      hostId: config.hostId,
      runtime: config.runtime,
      limits: { memoryMb: config.containerMemoryMb, cpus: config.containerCpus, pids: config.containerPids },
      agentEnv: {
        WORKCELL_MODEL_PROVIDER: config.modelProvider,
        AWS_REGION: config.awsRegion,
      },
      startTimeoutMs: 30_000,
    },
  });

  const catalog = new Catalog(objects);
  const events = new RunEventLog(state);
  const sync = new ObjectStoreWorkspaceSync(objects, { maxFileBytes: config.maxFileBytes, logger: logger.child({ component: 'sync' }) });
  const files = new StoreFilesService(objects, state, { maxFileBytes: config.maxFileBytes });
  const execute = new ExecuteService({
    catalog,
    orchestrator,
    state,
    events,
    sync,
    logger: logger.child({ component: 'execute' }),
    settings: {
      runTimeoutMs: config.runTimeoutMs,
      maxPromptBytes: config.maxPromptBytes,
      leaseTtlMs: 30_000,
      eventBufferTtlMs: 3_600_000,
    },
  });

  let generatedToken: string | null = null;
  let tokens = config.apiTokens;
  if (!tokens || tokens.size === 0) {
    generatedToken = `wc_${randomBytes(24).toString('base64url')}`;
    tokens = new Map([[generatedToken, 'local']]);
  }
  const auth = new TokenAuthenticator(tokens, config.adminTokens);

  const health = async (): Promise<{ status: 'ok' | 'degraded'; body: Record<string, unknown> }> => {
    const check = async (fn: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> => {
      try {
        await Promise.race([fn(), new Promise((_, rej) => setTimeout(() => rej(new Error('timed out')), 2000))]);
        return { ok: true };
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    };
    const [docker, stateStore, objectStore] = await Promise.all([
      check(() => runtime.ping()),
      check(() => state.ping()),
      check(() => objects.ping()),
    ]);
    let pool = { warm: 0, assigned: 0, running: 0 };
    if (stateStore.ok) {
      const records = await state.listContainers().catch(() => []);
      pool = {
        warm: records.filter((r) => r.state === 'warm').length,
        assigned: records.filter((r) => ['assigned', 'idle', 'paused'].includes(r.state)).length,
        running: records.filter((r) => r.state === 'running').length,
      };
    }
    const ok = docker.ok && stateStore.ok && objectStore.ok;
    return {
      status: ok ? 'ok' : 'degraded',
      body: {
        status: ok ? 'ok' : 'degraded',
        docker: { ...docker },
        stateStore: { kind: state.kind, ...stateStore },
        objectStore: { kind: objects.description, ...objectStore },
        pool,
      },
    };
  };

  const api = await buildApi({
    auth,
    catalog,
    orchestrator,
    execute,
    events,
    files,
    egress: { policies, audit },
    health,
    logger: logger.child({ component: 'api' }),
    limits: { maxFileBytes: config.maxFileBytes, maxJsonBytes: config.maxPromptBytes + 64 * 1024 },
  });

  return {
    config,
    logger,
    api,
    state,
    objects,
    runtime,
    orchestrator,
    execute,
    catalog,
    audit,
    policies,
    mockModel,
    generatedToken,
    async listen() {
      return api.listen({ port: config.port, host: config.host });
    },
    async close(deadlineMs = 30_000) {
      execute.stopAccepting();
      await Promise.race([execute.drain(), new Promise((r) => setTimeout(r, deadlineMs))]);
      await api.close();
      await orchestrator.close();
      await gateway.close();
      await state.close();
      await objects.close();
      await mockModel?.close();
    },
  };
}

