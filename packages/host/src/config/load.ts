import { hostname, totalmem } from 'node:os';
import { WorkcellError } from '@workcell/protocol';
import { mcpEgressPatterns } from '../agent-settings/mcp-hosts.js';
import { configSchema, ENV_NAMES, type Config, type ConfigInput } from './schema.js';

export const WORKCELL_VERSION = '0.1.0';

/** A configuration with every default applied and the derived values filled in. */
export interface ResolvedConfig extends Omit<
  Config,
  'image' | 'bedrockUpstream' | 'hostId' | 'maxContainers'
> {
  image: string;
  maxContainers: number;
  bedrockUpstream: string;
  hostId: string;
  version: string;
}

/**
 * Reads the configuration from environment variables; a bad value throws an error naming the
 * variable. This is the only place that reads `process.env` for settings.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<ConfigInput> = {},
): ResolvedConfig {
  const input: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(ENV_NAMES)) {
    const value = env[variable];
    if (value !== undefined && value !== '') input[key] = value;
  }
  return resolveConfig({ ...input, ...overrides });
}

/** Validates `input` (field names, not variable names) and fills in derived defaults. */
export function resolveConfig(input: Record<string, unknown>): ResolvedConfig {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const variable = ENV_NAMES[key as keyof typeof ENV_NAMES] ?? key;
      return `${variable}: ${issue.message}`;
    });
    throw new WorkcellError('validation_failed', `invalid configuration: ${problems.join('; ')}`);
  }
  const c = parsed.data;
  if ((c.s3AccessKey === undefined) !== (c.s3SecretKey === undefined)) {
    throw new WorkcellError(
      'validation_failed',
      'invalid configuration: WORKCELL_S3_ACCESS_KEY and WORKCELL_S3_SECRET_KEY go together',
    );
  }
  if ((c.webhookUrl === undefined) !== (c.webhookSecret === undefined)) {
    throw new WorkcellError(
      'validation_failed',
      'invalid configuration: WORKCELL_WEBHOOK_URL and WORKCELL_WEBHOOK_SECRET go together',
    );
  }
  for (const [variable, model] of [
    ['WORKCELL_MODEL', c.model],
    ['WORKCELL_AGENT_DEFAULTS', c.agentDefaults?.model],
  ] as const) {
    if (model !== undefined && c.modelsAllowed && !c.modelsAllowed.includes(model))
      throw new WorkcellError(
        'validation_failed',
        `invalid configuration: ${variable}: model "${model}" is not in WORKCELL_MODELS_ALLOWED`,
      );
  }
  try {
    if (c.agentDefaults) mcpEgressPatterns(c.agentDefaults);
  } catch (err) {
    throw new WorkcellError(
      'validation_failed',
      `invalid configuration: WORKCELL_AGENT_DEFAULTS: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return {
    ...c,
    image: c.image ?? `workcell/workspace:${WORKCELL_VERSION}`,
    bedrockUpstream: c.bedrockUpstream ?? `https://bedrock-runtime.${c.awsRegion}.amazonaws.com`,
    hostId:
      c.hostId ??
      hostname()
        .replace(/[^A-Za-z0-9_.-]/g, '-')
        .slice(0, 64),
    maxContainers: c.maxContainers ?? containersFitting(totalmem(), c.containerMemoryMb),
    version: WORKCELL_VERSION,
  };
}

/** What a machine of `memoryBytes` holds at `containerMemoryMb` each, keeping 1 GiB for the host. */
export function containersFitting(memoryBytes: number, containerMemoryMb: number): number {
  const forContainers = memoryBytes - 1024 * 1024 * 1024;
  return Math.max(1, Math.floor(forContainers / (containerMemoryMb * 1024 * 1024)));
}
