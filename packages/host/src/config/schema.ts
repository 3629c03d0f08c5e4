import { modelIdSchema } from '@workcell/protocol';
import { parseAnthropicOperations, parseCidrList, parseEgressPatterns } from '@workcell/proxy';
import { z } from 'zod';
import { agentSettingsSchema } from '../agent-settings/schema.js';
import { parseRedisUrl } from '../state/redis-url.js';
import { isSigningSecret } from '../webhooks/signature.js';

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const urlString = z.string().url();

/** A package registry's URL: http or https, no user name or password, no query or fragment. */
const registryUrl = urlString.refine((raw) => {
  const url = new URL(raw);
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    !url.username &&
    !url.password &&
    !url.search &&
    !url.hash
  );
}, 'must be an http or https URL without credentials, query or fragment');

/** A comma-separated list, trimmed, without empty entries. */
export const splitList = (raw: string): string[] =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** `scheme://host[:port]` exactly, as a browser sends it in `Origin`. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}

/** `token=tenant,token=tenant` -> Map(token -> tenant). */
const tokenMap = z.string().transform((raw, ctx) => {
  const map = new Map<string, string>();
  for (const entry of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = entry.indexOf('=');
    const token = eq > 0 ? entry.slice(0, eq) : '';
    const tenant = eq > 0 ? entry.slice(eq + 1) : '';
    if (token.length < 16 || !/^[A-Za-z0-9_-]{1,64}$/.test(tenant)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'each entry must be token=tenant with a token of 16+ characters and a tenant of [A-Za-z0-9_-]',
      });
      return z.NEVER;
    }
    map.set(token, tenant);
  }
  return map;
});

/** A secrets key is the canonical base64 of exactly 32 bytes. */
function isSecretsKey(raw: string): boolean {
  const bytes = Buffer.from(raw.trim(), 'base64');
  return bytes.length === 32 && bytes.toString('base64') === raw.trim();
}

/** Refuses over-broad or malformed egress patterns (`*`, `*.com`, schemes, paths, ...). */
function egressPatterns(variable: string) {
  return (raw: string, ctx: z.RefinementCtx): void => {
    try {
      parseEgressPatterns(raw, variable);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      ctx.addIssue({ code: 'custom', message: message.replace(`${variable}: `, '') });
    }
  };
}

/** `true`/`false`/`1`/`0`, default false. */
const booleanFlag = z
  .enum(['true', 'false', '1', '0'])
  .default('false')
  .transform((v) => v === 'true' || v === '1');

/** `a,b,c` -> model ids; each must be one. */
const modelList = z.string().transform((raw, ctx) => {
  const models = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const model of models) {
    if (!modelIdSchema.safeParse(model).success) {
      ctx.addIssue({ code: 'custom', message: `"${model}" is not a model id` });
      return z.NEVER;
    }
  }
  return models;
});

/** A JSON object of agent settings, checked by the same schema the API uses. */
const agentDefaults = z.string().transform((raw, ctx) => {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON object of agent settings' });
    return z.NEVER;
  }
  const parsed = agentSettingsSchema.safeParse(value);
  if (!parsed.success) {
    ctx.addIssue({
      code: 'custom',
      message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    });
    return z.NEVER;
  }
  return parsed.data;
});

/**
 * Every setting of the host, one schema. Each field names its environment variable in
 * `ENV_NAMES` and documents its default; docs/configuration.md is generated from this.
 */
export const configSchema = z.object({
  port: intFrom(0, 65535).default(8080).describe('TCP port the HTTP API listens on.'),
  host: z.string().min(1).default('127.0.0.1').describe('Address the HTTP API binds.'),
  apiTokens: tokenMap
    .optional()
    .describe(
      'API tokens and their tenants, `token=tenant,...`. Unset: one token is generated at start for tenant `local` and printed.',
    ),
  adminTokens: z
    .string()
    .optional()
    .transform(
      (raw) =>
        new Set(
          (raw ?? '')
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        ),
    )
    .describe('Tokens (comma-separated) that may call the `/v1/admin` routes.'),
  dataDir: z
    .string()
    .min(1)
    .default('./.workcell')
    .describe(
      'Local state: the object directory (when no S3 bucket), container mounts and sockets.',
    ),
  redisUrl: z
    .string()
    .superRefine((raw, ctx) => {
      try {
        parseRedisUrl(raw);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
      }
    })
    .optional()
    .describe(
      'Redis for shared state: `redis://[user:password@]host:port[/db]` for one server, `redis+cluster://host:port,host:port,...` (seed nodes) for a Redis Cluster (`rediss` for TLS); unset keeps state in process memory.',
    ),
  s3Bucket: z
    .string()
    .min(3)
    .max(63)
    .optional()
    .describe('S3 bucket for durable data; unset uses a directory under the data directory.'),
  s3Endpoint: urlString
    .optional()
    .describe('S3-compatible endpoint (path-style addressing is used when set).'),
  s3Prefix: z.string().default('').describe('Key prefix inside the bucket.'),
  s3Region: z
    .string()
    .min(1)
    .optional()
    .describe("The object store's region; default `AWS_REGION`."),
  s3AccessKey: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The object store's access key id, with `WORKCELL_S3_SECRET_KEY`; unset uses the AWS SDK's default credential chain. Bedrock never uses it.",
    ),
  s3SecretKey: z
    .string()
    .min(1)
    .optional()
    .describe("The object store's secret key, with `WORKCELL_S3_ACCESS_KEY`."),
  awsRegion: z
    .string()
    .min(1)
    .default('us-east-1')
    .describe('AWS region for Bedrock, and for S3 unless `WORKCELL_S3_REGION` is set.'),
  modelProvider: z
    .enum(['anthropic', 'bedrock'])
    .default('anthropic')
    .describe('Which model API the agents use.'),
  anthropicApiKey: z
    .string()
    .optional()
    .describe('Anthropic API key, read by the proxy only; never passed to a container.'),
  anthropicUpstream: urlString
    .default('https://api.anthropic.com')
    .describe('Where `/_workcell/anthropic` requests go.'),
  anthropicOperations: z
    .string()
    .default('')
    .superRefine((raw, ctx) => {
      try {
        parseAnthropicOperations(splitList(raw), 'WORKCELL_ANTHROPIC_OPERATIONS');
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        ctx.addIssue({
          code: 'custom',
          message: message.replace('WORKCELL_ANTHROPIC_OPERATIONS: ', ''),
        });
      }
    })
    .describe(
      'Anthropic API operations the model route forwards besides `POST /v1/messages` and `POST /v1/messages/count_tokens`: `METHOD /path`, comma-separated (e.g. `GET /v1/models`). Every other operation answers 404.',
    ),
  bedrockUpstream: urlString
    .optional()
    .describe(
      'Where `/_workcell/bedrock` requests go; default `https://bedrock-runtime.<region>.amazonaws.com`.',
    ),
  model: modelIdSchema
    .optional()
    .describe(
      "The agents' default model (an Anthropic model name, or a Bedrock model id, inference-profile id or ARN); unset: the SDK's default.",
    ),
  modelsAllowed: modelList
    .optional()
    .describe(
      'Models a workspace or message may choose, comma-separated; another answers 400 `model_not_allowed`. Unset: any.',
    ),
  agentDefaults: agentDefaults
    .optional()
    .describe(
      'Operator defaults for every agent, a JSON object of agent settings (the same fields as `PUT /v1/workspaces/:wid/agent`), e.g. `{"appendSystemPrompt": "...", "maxTurns": 50}`.',
    ),
  agentPrewarm: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1')
    .describe(
      "Whether agents keep Claude Code started ahead of the next run (a warm container's for the operator's defaults, an assigned one's for its conversation's next turn); off: every run starts it.",
    ),
  agentReadyIdleMs: intFrom(1000, 24 * 3600 * 1000)
    .default(300_000)
    .describe(
      "How long an assigned container's agent keeps Claude Code started for its conversation's next turn before closing it.",
    ),
  agentReadyMax: intFrom(1, 100_000)
    .optional()
    .describe(
      'Containers of this host that keep a ready Claude Code process at most (80-83 MiB each, measured); when one more would start one, the least recently used is released first. Default: no bound.',
    ),
  agentCustomSystemPrompt: booleanFlag.describe(
    'Whether a workspace or message may replace the system prompt (`systemPrompt`); otherwise only `appendSystemPrompt` is accepted.',
  ),
  managedAgentsUnrestricted: booleanFlag.describe(
    "Whether a Managed Agents environment may use `networking: unrestricted`, served as the operator's whole egress list (public hosts only; private, metadata and host addresses stay refused). Refused with 400 otherwise.",
  ),
  npmRegistry: registryUrl
    .default('https://registry.npmjs.org')
    .describe(
      "The npm registry a Managed Agents environment's `config.packages.npm` installs from (`http` or `https`, no credentials). Its host must be in `WORKCELL_EGRESS_ALLOW`; only it (and the pip index's hosts) is open while packages install.",
    ),
  pipIndexUrl: registryUrl
    .default('https://pypi.org/simple')
    .describe(
      "The PEP 503 simple index a Managed Agents environment's `config.packages.pip` installs from (`http` or `https`, no credentials). Its host must be in `WORKCELL_EGRESS_ALLOW` (for `pypi.org`, `files.pythonhosted.org` too, where its files live).",
    ),
  packageInstallTimeoutMs: intFrom(10_000, 3600 * 1000)
    .default(300_000)
    .describe(
      "How long installing a Managed Agents environment's packages into a session's workspace may take, milliseconds; past it the install is killed and the session reports `package_install_failed`.",
    ),
  egressAllow: z
    .string()
    .default('')
    .superRefine(egressPatterns('WORKCELL_EGRESS_ALLOW'))
    .describe(
      'Host patterns a container may reach: `host`, `*.domain`, optional `:port`, comma-separated.',
    ),
  egressDeny: z
    .string()
    .default('')
    .superRefine(egressPatterns('WORKCELL_EGRESS_DENY'))
    .describe('Host patterns always refused; checked before the allow list.'),
  egressAllowPrivate: z
    .string()
    .default('')
    .superRefine((raw, ctx) => {
      try {
        parseCidrList(raw, 'WORKCELL_EGRESS_ALLOW_PRIVATE');
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        ctx.addIssue({
          code: 'custom',
          message: message.replace('WORKCELL_EGRESS_ALLOW_PRIVATE: ', ''),
        });
      }
    })
    .describe('CIDRs that allowlisted names may resolve to (tests, internal mirrors).'),
  secretsKey: z
    .string()
    .optional()
    .superRefine((raw, ctx) => {
      if (raw !== undefined && !isSecretsKey(raw))
        ctx.addIssue({ code: 'custom', message: 'must be the base64 of exactly 32 random bytes' });
    })
    .describe(
      'Key that encrypts workspace and tenant secrets and webhook signing secrets at rest (AES-256-GCM): base64 of 32 random bytes (`openssl rand -base64 32`). Read by the host only; unset: the secrets API answers 501.',
    ),
  webhookUrl: urlString
    .refine((u) => /^https?:\/\//i.test(u), 'must be an http or https URL')
    .optional()
    .describe(
      "The operator's webhook endpoint: every tenant's `run.completed`, `run.failed` and `workspace.deleted` events are delivered there (Standard Webhooks, signed with `WORKCELL_WEBHOOK_SECRET`).",
    ),
  webhookSecret: z
    .string()
    .optional()
    .superRefine((raw, ctx) => {
      if (raw !== undefined && !isSigningSecret(raw))
        ctx.addIssue({
          code: 'custom',
          message: 'must be whsec_ followed by the base64 of 24-64 random bytes',
        });
    })
    .describe(
      'Signing secret of `WORKCELL_WEBHOOK_URL`: `whsec_` + base64 of 24-64 random bytes (`echo whsec_$(openssl rand -base64 32)`). Required with it.',
    ),
  webhookAllowPrivate: booleanFlag.describe(
    "Whether webhook URLs may reach private, loopback, link-local and this host's own addresses (tests, private networks). Cloud metadata addresses stay refused.",
  ),
  webhookTimeoutMs: intFrom(100, 120_000)
    .default(10_000)
    .describe('Time one webhook attempt may take, connection to response.'),
  webhookMaxAttempts: intFrom(1, 100)
    .default(12)
    .describe('Attempts of one webhook delivery before it is given up.'),
  webhookRetryBaseMs: intFrom(10, 24 * 3600 * 1000)
    .default(5_000)
    .describe(
      'Wait before the second attempt of a webhook delivery; each later wait doubles, up to one hour.',
    ),
  upstreamCaFile: z
    .string()
    .min(1)
    .optional()
    .describe(
      "PEM file of extra CAs trusted for the upstreams of secret hosts (internal APIs), added to the system's roots.",
    ),
  image: z
    .string()
    .min(1)
    .optional()
    .describe('Workspace image; default `workcell/workspace:<version>`.'),
  runtime: z
    .enum(['runc', 'runsc'])
    .default('runc')
    .describe('OCI runtime for workspace containers (`runsc` is gVisor).'),
  warmPoolSize: intFrom(0, 1000).default(2).describe('Ready containers kept unassigned.'),
  warmPoolRefillDelayMs: intFrom(0, 60_000)
    .default(0)
    .describe(
      "How long the pool waits after a warm claim before it starts the claimed container's replacement, so the replacement's start does not compete for the cores with the run that claimed; 0: at once.",
    ),
  snapshotKeep: intFrom(1, 100_000)
    .default(100)
    .describe('Snapshots kept per workspace; older ones are deleted, their blobs collected.'),
  idleTimeoutMs: intFrom(1000, 7 * 24 * 3600 * 1000)
    .default(600_000)
    .describe('An assigned container idle this long is synced out and removed.'),
  terminalIdleTimeoutMs: intFrom(1000, 7 * 24 * 3600 * 1000)
    .default(900_000)
    .describe(
      'A terminal with neither input nor output this long is closed (its changes synced out).',
    ),
  ticketTtlMs: intFrom(1000, 3_600_000)
    .default(60_000)
    .describe(
      'How long a browser ticket (`POST /v1/tickets`, for the terminal and event streams) stays valid; it opens one connection.',
    ),
  terminalMaxPerWorkspace: intFrom(1, 1000)
    .default(4)
    .describe('Terminals open at once in one workspace; one more answers `too_many_terminals`.'),
  terminalMaxPerHost: intFrom(1, 100_000)
    .default(64)
    .describe('Terminals open at once on this host; one more answers `too_many_terminals`.'),
  maxLifetimeMs: intFrom(1000, 30 * 24 * 3600 * 1000)
    .default(14_400_000)
    .describe('A container older than this is retired when next idle.'),
  runTimeoutMs: intFrom(1000, 24 * 3600 * 1000)
    .default(1_800_000)
    .describe("A run's wall-clock limit."),
  approvalTimeoutMs: intFrom(1000, 30 * 24 * 3600 * 1000)
    .default(86_400_000)
    .describe(
      'How long an approval or client tool call waits for a client before it is denied (reason `timeout`); the wait does not count against the run timeout.',
    ),
  execTimeoutMs: intFrom(1000, 24 * 3600 * 1000)
    .default(600_000)
    .describe(
      "A command's wall-clock limit (`POST /v1/workspaces/:wid/exec`): the default and the largest `timeoutMs` a request may ask for.",
    ),
  execMaxOutputBytes: intFrom(1024, 256 * 1024 * 1024)
    .default(1024 * 1024)
    .describe(
      "How much of a command's stdout, and as much of its stderr, a JSON exec answer keeps, bytes (the rest is read and dropped; `truncated` says so). Streamed answers are not capped.",
    ),
  gcIntervalMs: intFrom(1000, 24 * 3600 * 1000)
    .default(30_000)
    .describe(
      'Time between garbage-collection passes (idle, over-age, failed and orphaned containers).',
    ),
  containerMemoryMb: intFrom(64, 1024 * 1024)
    .default(2048)
    .describe('Memory limit per container, MiB.'),
  containerCpus: z.coerce
    .number()
    .positive()
    .max(256)
    .default(1)
    .describe('CPU limit per container.'),
  containerPids: intFrom(16, 1_000_000).default(512).describe('Process limit per container.'),
  maxContainers: intFrom(1, 100_000)
    .optional()
    .describe(
      "Containers this host runs at most (warm ones included). Default: the machine's memory less 1 GiB for the host, divided by `WORKCELL_CONTAINER_MEMORY_MB`, at least 1.",
    ),
  containerNofile: intFrom(64, 1_048_576)
    .default(4096)
    .describe('Open-file limit (`nofile`) per container.'),
  workspaceDiskMb: intFrom(0, 16 * 1024 * 1024)
    .default(4096)
    .describe(
      "Hard size of each container's `/workspace` and session directory together, MiB: a loop-mounted ext4 volume per container (needs root). 0 = no limit.",
    ),
  proxyIsolation: z
    .enum(['process', 'inline'])
    .default('process')
    .describe(
      'Where the egress proxy runs: `process`, its own process, restarted within a second if it dies, listeners re-created; `inline`, in the host (development, benchmarks).',
    ),
  proxyMaxConnections: intFrom(1, 100_000)
    .default(64)
    .describe('Concurrent connections one container may hold open to the egress proxy.'),
  proxyMaxTunnels: intFrom(1, 100_000)
    .default(32)
    .describe('Concurrent CONNECT tunnels one container may hold open.'),
  proxyTunnelIdleMs: intFrom(1000, 24 * 3600 * 1000)
    .default(300_000)
    .describe('A tunnel with no traffic either way for this long is closed.'),
  proxyHeadersTimeoutMs: intFrom(100, 600_000)
    .default(15_000)
    .describe("Time the proxy waits for a request's headers."),
  proxyRequestTimeoutMs: intFrom(100, 24 * 3600 * 1000)
    .default(120_000)
    .describe('Time the proxy waits for a whole request, body included.'),
  proxyMaxBufferedBytes: intFrom(1024 * 1024, 64 * 1024 * 1024 * 1024)
    .default(256 * 1024 * 1024)
    .describe(
      'Request bytes the proxy holds in memory across all containers (Bedrock bodies are read whole to sign); past it, 503 with Retry-After.',
    ),
  maxFileBytes: intFrom(1, 100 * 1024 * 1024 * 1024)
    .default(100 * 1024 * 1024)
    .describe('Largest workspace file accepted by the API or synced out, bytes.'),
  archiveMaxBytes: intFrom(1, 100 * 1024 * 1024 * 1024)
    .default(1024 * 1024 * 1024)
    .describe(
      'Largest archive body `POST /v1/workspaces/:wid/archive` accepts, bytes (as sent, compressed).',
    ),
  archiveMaxUnpackedBytes: intFrom(1, 1024 * 1024 * 1024 * 1024)
    .default(4 * 1024 * 1024 * 1024)
    .describe(
      'Largest total an uploaded archive may unpack to, bytes; past it the upload is refused.',
    ),
  archiveMaxEntries: intFrom(1, 10_000_000)
    .default(100_000)
    .describe('Most entries (files and folders) an uploaded archive may hold.'),
  archiveMaxRatio: intFrom(1, 100_000)
    .default(200)
    .describe(
      'Largest ratio of unpacked bytes to archive bytes an upload may reach (checked once it unpacks past 1 MiB): stops compression bombs early.',
    ),
  archiveMaxUploads: intFrom(1, 1000)
    .default(4)
    .describe(
      'Archive uploads one host unpacks at once (each spools up to WORKCELL_ARCHIVE_MAX_BYTES to its data directory); past it, 503 host_at_capacity with Retry-After.',
    ),
  maxPromptBytes: intFrom(1, 10 * 1024 * 1024)
    .default(256 * 1024)
    .describe('Largest message content accepted, bytes.'),
  corsOrigins: z
    .string()
    .default('')
    .superRefine((raw, ctx) => {
      for (const origin of splitList(raw)) {
        if (!isOrigin(origin))
          ctx.addIssue({
            code: 'custom',
            message: `${origin} is not an origin (scheme://host[:port], no path)`,
          });
      }
    })
    .describe(
      'Browser origins allowed to call the API from another origin (CORS), comma-separated; default none.',
    ),
  maxImageBytes: intFrom(0, 64 * 1024 * 1024)
    .default(5 * 1024 * 1024)
    .describe('Largest total of decoded image bytes in one message (0 refuses images).'),
  rateLimitPerMinute: intFrom(0, 1_000_000)
    .default(600)
    .describe('Requests per tenant per minute (0 = unlimited).'),
  storeRetryMs: intFrom(1_000, 3600 * 1000)
    .default(60_000)
    .describe(
      "How long a run's writes to a store that went away (its events, records, log and sync out) are retried before the run gives up on them; new work is refused meanwhile.",
    ),
  foreignRunGraceMs: intFrom(0, 24 * 3600 * 1000)
    .default(120_000)
    .describe(
      'How long a run whose host died stays waiting for a host of its own data directory (which can reach its container) before another host ends it host_lost.',
    ),
  shutdownTimeoutMs: intFrom(0, 24 * 3600 * 1000)
    .default(25_000)
    .describe(
      'On SIGTERM, how long runs in progress may go on before they are stopped (their files are still synced out).',
    ),
  logLevel: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('Log level.'),
  hostId: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .optional()
    .describe("This host instance's name in container labels; default the machine hostname."),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** The environment variable behind each setting. */
export const ENV_NAMES = {
  port: 'WORKCELL_PORT',
  host: 'WORKCELL_HOST',
  apiTokens: 'WORKCELL_API_TOKENS',
  adminTokens: 'WORKCELL_ADMIN_TOKENS',
  dataDir: 'WORKCELL_DATA_DIR',
  redisUrl: 'WORKCELL_REDIS_URL',
  s3Bucket: 'WORKCELL_S3_BUCKET',
  s3Endpoint: 'WORKCELL_S3_ENDPOINT',
  s3Prefix: 'WORKCELL_S3_PREFIX',
  s3Region: 'WORKCELL_S3_REGION',
  s3AccessKey: 'WORKCELL_S3_ACCESS_KEY',
  s3SecretKey: 'WORKCELL_S3_SECRET_KEY',
  awsRegion: 'AWS_REGION',
  modelProvider: 'WORKCELL_MODEL_PROVIDER',
  anthropicApiKey: 'ANTHROPIC_API_KEY',
  anthropicUpstream: 'WORKCELL_ANTHROPIC_UPSTREAM',
  anthropicOperations: 'WORKCELL_ANTHROPIC_OPERATIONS',
  bedrockUpstream: 'WORKCELL_BEDROCK_UPSTREAM',
  model: 'WORKCELL_MODEL',
  modelsAllowed: 'WORKCELL_MODELS_ALLOWED',
  agentDefaults: 'WORKCELL_AGENT_DEFAULTS',
  agentCustomSystemPrompt: 'WORKCELL_AGENT_CUSTOM_SYSTEM_PROMPT',
  managedAgentsUnrestricted: 'WORKCELL_MANAGED_AGENTS_UNRESTRICTED',
  agentPrewarm: 'WORKCELL_AGENT_PREWARM',
  agentReadyIdleMs: 'WORKCELL_AGENT_READY_IDLE_MS',
  agentReadyMax: 'WORKCELL_AGENT_READY_MAX',
  npmRegistry: 'WORKCELL_NPM_REGISTRY',
  pipIndexUrl: 'WORKCELL_PIP_INDEX_URL',
  packageInstallTimeoutMs: 'WORKCELL_PACKAGE_INSTALL_TIMEOUT_MS',
  egressAllow: 'WORKCELL_EGRESS_ALLOW',
  egressDeny: 'WORKCELL_EGRESS_DENY',
  egressAllowPrivate: 'WORKCELL_EGRESS_ALLOW_PRIVATE',
  secretsKey: 'WORKCELL_SECRETS_KEY',
  upstreamCaFile: 'WORKCELL_UPSTREAM_CA_FILE',
  webhookUrl: 'WORKCELL_WEBHOOK_URL',
  webhookSecret: 'WORKCELL_WEBHOOK_SECRET',
  webhookAllowPrivate: 'WORKCELL_WEBHOOK_ALLOW_PRIVATE',
  webhookTimeoutMs: 'WORKCELL_WEBHOOK_TIMEOUT_MS',
  webhookMaxAttempts: 'WORKCELL_WEBHOOK_MAX_ATTEMPTS',
  webhookRetryBaseMs: 'WORKCELL_WEBHOOK_RETRY_BASE_MS',
  image: 'WORKCELL_IMAGE',
  runtime: 'WORKCELL_RUNTIME',
  warmPoolSize: 'WORKCELL_WARM_POOL_SIZE',
  warmPoolRefillDelayMs: 'WORKCELL_WARM_POOL_REFILL_DELAY_MS',
  snapshotKeep: 'WORKCELL_SNAPSHOT_KEEP',
  idleTimeoutMs: 'WORKCELL_IDLE_TIMEOUT_MS',
  maxLifetimeMs: 'WORKCELL_MAX_LIFETIME_MS',
  terminalIdleTimeoutMs: 'WORKCELL_TERMINAL_IDLE_TIMEOUT_MS',
  ticketTtlMs: 'WORKCELL_TICKET_TTL_MS',
  terminalMaxPerWorkspace: 'WORKCELL_TERMINAL_MAX_PER_WORKSPACE',
  terminalMaxPerHost: 'WORKCELL_TERMINAL_MAX_PER_HOST',
  runTimeoutMs: 'WORKCELL_RUN_TIMEOUT_MS',
  approvalTimeoutMs: 'WORKCELL_APPROVAL_TIMEOUT_MS',
  execTimeoutMs: 'WORKCELL_EXEC_TIMEOUT_MS',
  execMaxOutputBytes: 'WORKCELL_EXEC_MAX_OUTPUT_BYTES',
  gcIntervalMs: 'WORKCELL_GC_INTERVAL_MS',
  containerMemoryMb: 'WORKCELL_CONTAINER_MEMORY_MB',
  containerCpus: 'WORKCELL_CONTAINER_CPUS',
  containerPids: 'WORKCELL_CONTAINER_PIDS',
  maxContainers: 'WORKCELL_MAX_CONTAINERS',
  containerNofile: 'WORKCELL_CONTAINER_NOFILE',
  workspaceDiskMb: 'WORKCELL_WORKSPACE_DISK_MB',
  proxyIsolation: 'WORKCELL_PROXY_ISOLATION',
  proxyMaxConnections: 'WORKCELL_PROXY_MAX_CONNECTIONS',
  proxyMaxTunnels: 'WORKCELL_PROXY_MAX_TUNNELS',
  proxyTunnelIdleMs: 'WORKCELL_PROXY_TUNNEL_IDLE_MS',
  proxyHeadersTimeoutMs: 'WORKCELL_PROXY_HEADERS_TIMEOUT_MS',
  proxyRequestTimeoutMs: 'WORKCELL_PROXY_REQUEST_TIMEOUT_MS',
  proxyMaxBufferedBytes: 'WORKCELL_PROXY_MAX_BUFFERED_BYTES',
  maxFileBytes: 'WORKCELL_MAX_FILE_BYTES',
  archiveMaxBytes: 'WORKCELL_ARCHIVE_MAX_BYTES',
  archiveMaxUnpackedBytes: 'WORKCELL_ARCHIVE_MAX_UNPACKED_BYTES',
  archiveMaxEntries: 'WORKCELL_ARCHIVE_MAX_ENTRIES',
  archiveMaxRatio: 'WORKCELL_ARCHIVE_MAX_RATIO',
  archiveMaxUploads: 'WORKCELL_ARCHIVE_MAX_UPLOADS',
  maxPromptBytes: 'WORKCELL_MAX_PROMPT_BYTES',
  corsOrigins: 'WORKCELL_CORS_ORIGINS',
  maxImageBytes: 'WORKCELL_MAX_IMAGE_BYTES',
  rateLimitPerMinute: 'WORKCELL_RATE_LIMIT_PER_MINUTE',
  storeRetryMs: 'WORKCELL_STORE_RETRY_MS',
  foreignRunGraceMs: 'WORKCELL_FOREIGN_RUN_GRACE_MS',
  shutdownTimeoutMs: 'WORKCELL_SHUTDOWN_TIMEOUT_MS',
  logLevel: 'WORKCELL_LOG_LEVEL',
  hostId: 'WORKCELL_HOST_ID',
} as const satisfies Record<keyof Config, string>;
