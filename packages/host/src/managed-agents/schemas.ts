import { TOOLSET_TOOL_NAMES, imageBlockSchema } from '@workcell/protocol';
import { z } from 'zod';
import { AnthropicApiError, unsupported } from './errors.js';

/**
 * The request bodies of the Managed Agents API, as the pinned SDK's types declare them. Objects
 * are strict: a field Workcell does not know answers 400 naming it. Fields the SDK knows and
 * Workcell does not serve are refused by name before parsing (`refuseUnsupported`).
 */

const metadata = z
  .record(z.string().max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, 'at most 16 keys');
const metadataPatch = z
  .record(z.string().max(64), z.string().max(512).nullable())
  .refine((m) => Object.keys(m).length <= 16, 'at most 16 keys');

const policy = z
  .object({ type: z.enum(['always_allow', 'always_ask']) })
  .strict()
  .describe('`auto` is not served');

const toolConfig = z
  .object({
    name: z.enum(TOOLSET_TOOL_NAMES as [string, ...string[]]),
    type: z.enum(TOOLSET_TOOL_NAMES as [string, ...string[]]).optional(),
    enabled: z.boolean().nullish(),
    permission_policy: policy.nullish(),
  })
  .strict();
const defaultConfig = z
  .object({ enabled: z.boolean().nullish(), permission_policy: policy.nullish() })
  .strict();

export const agentToolsetParams = z
  .object({
    type: z.literal('agent_toolset_20260401'),
    configs: z.array(toolConfig).max(TOOLSET_TOOL_NAMES.length).optional(),
    default_config: defaultConfig.nullish(),
  })
  .strict();
export const mcpToolsetParams = z
  .object({
    type: z.literal('mcp_toolset'),
    mcp_server_name: z.string().min(1).max(64),
    configs: z
      .array(
        z
          .object({
            name: z.string().min(1).max(128),
            enabled: z.boolean().nullish(),
            permission_policy: policy.nullish(),
          })
          .strict(),
      )
      .max(128)
      .optional(),
    default_config: defaultConfig.nullish(),
  })
  .strict();
export const customToolParams = z
  .object({
    type: z.literal('custom'),
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    description: z.string().max(1024),
    input_schema: z.looseObject({ type: z.literal('object') }),
  })
  .strict();
const toolParams = z.discriminatedUnion('type', [
  agentToolsetParams,
  mcpToolsetParams,
  customToolParams,
]);

export const mcpServerParams = z
  .object({
    type: z.literal('url'),
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a name of 1-64 letters, digits, _ or -'),
    url: z
      .string()
      .max(2000)
      .refine((u) => /^https?:\/\//i.test(u) && URL.canParse(u), 'an http(s) URL'),
  })
  .strict();

export const modelParams = z.union([
  z.string().min(1).max(256),
  z
    .object({
      id: z.string().min(1).max(256),
      speed: z.enum(['standard', 'fast']).nullish(),
    })
    .strict(),
]);

export const agentCreateBody = z
  .object({
    name: z.string().min(1).max(256),
    model: modelParams,
    description: z.string().max(2048).nullish(),
    metadata: metadata.optional(),
    system: z.string().max(100_000).nullish(),
    tools: z.array(toolParams).max(128).optional(),
    mcp_servers: z.array(mcpServerParams).max(20).optional(),
  })
  .strict();
export type AgentCreateBody = z.infer<typeof agentCreateBody>;

export const agentUpdateBody = z
  .object({
    version: z.number().int().min(1).optional(),
    name: z.string().min(1).max(256).optional(),
    model: modelParams.optional(),
    description: z.string().max(2048).nullish(),
    metadata: metadataPatch.nullish(),
    system: z.string().max(100_000).nullish(),
    tools: z.array(toolParams).max(128).nullish(),
    mcp_servers: z.array(mcpServerParams).max(20).nullish(),
  })
  .strict();
export type AgentUpdateBody = z.infer<typeof agentUpdateBody>;

const hostList = z.array(z.string().min(1).max(260)).max(100);

const limitedNetwork = z
  .object({
    type: z.literal('limited'),
    allowed_hosts: hostList.nullish(),
    allow_package_managers: z.boolean().nullish(),
    allow_mcp_servers: z.boolean().nullish(),
  })
  .strict();
const unrestrictedNetwork = z.object({ type: z.literal('unrestricted') }).strict();
const packageList = z.array(z.string().min(1).max(214)).max(100).nullish();
const packages = z
  .object({
    type: z.literal('packages').optional(),
    apt: packageList,
    cargo: packageList,
    gem: packageList,
    go: packageList,
    npm: packageList,
    pip: packageList,
  })
  .strict();
export const cloudConfig = z
  .object({
    type: z.literal('cloud'),
    networking: z.discriminatedUnion('type', [limitedNetwork, unrestrictedNetwork]).nullish(),
    packages: packages.nullish(),
  })
  .strict();
export type CloudConfigParams = z.infer<typeof cloudConfig>;

export const environmentCreateBody = z
  .object({
    name: z.string().min(1).max(256),
    description: z.string().max(2048).nullish(),
    metadata: metadata.optional(),
    config: cloudConfig.nullish(),
  })
  .strict();
export const environmentUpdateBody = z
  .object({
    name: z.string().min(1).max(256).nullish(),
    description: z.string().max(2048).nullish(),
    metadata: metadataPatch.optional(),
    config: cloudConfig.nullish(),
  })
  .strict();

export const vaultCreateBody = z
  .object({ display_name: z.string().min(1).max(256), metadata: metadata.optional() })
  .strict();
export const vaultUpdateBody = z
  .object({ display_name: z.string().min(1).max(256).nullish(), metadata: metadataPatch.nullish() })
  .strict();

const credentialNetworking = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('limited'),
      allowed_hosts: z.array(z.string().min(1).max(253)).min(1).max(20),
    })
    .strict(),
  z.object({ type: z.literal('unrestricted') }).strict(),
]);
const injection = z
  .object({ header: z.boolean().optional(), body: z.boolean().optional() })
  .strict();
const secretValue = z.string().min(1).max(16_384);

export const credentialCreateBody = z
  .object({
    display_name: z.string().max(256).nullish(),
    metadata: metadata.optional(),
    auth: z.discriminatedUnion('type', [
      z
        .object({
          type: z.literal('environment_variable'),
          secret_name: z
            .string()
            .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name'),
          secret_value: secretValue,
          networking: credentialNetworking,
          injection_location: injection.optional(),
        })
        .strict(),
      z
        .object({
          type: z.literal('static_bearer'),
          token: secretValue,
          mcp_server_url: z
            .string()
            .max(2000)
            .refine((u) => URL.canParse(u), 'a URL'),
        })
        .strict(),
      z.looseObject({ type: z.literal('mcp_oauth') }),
    ]),
  })
  .strict();
export type CredentialCreateBody = z.infer<typeof credentialCreateBody>;

export const credentialUpdateBody = z
  .object({
    display_name: z.string().max(256).nullish(),
    metadata: metadataPatch.nullish(),
    auth: z
      .discriminatedUnion('type', [
        z
          .object({
            type: z.literal('environment_variable'),
            secret_value: secretValue.nullish(),
            networking: credentialNetworking.nullish(),
            injection_location: injection.optional(),
          })
          .strict(),
        z.object({ type: z.literal('static_bearer'), token: secretValue.nullish() }).strict(),
        z.looseObject({ type: z.literal('mcp_oauth') }),
      ])
      .optional(),
  })
  .strict();
export type CredentialUpdateBody = z.infer<typeof credentialUpdateBody>;

export const agentRef = z.union([
  z.string().min(1).max(64),
  z
    .object({
      type: z.literal('agent'),
      id: z.string().min(1).max(64),
      version: z.number().int().min(1).optional(),
    })
    .strict(),
]);

export const sessionCreateBody = z
  .object({
    agent: agentRef,
    environment_id: z.string().min(1).max(64),
    title: z.string().max(512).nullish(),
    metadata: metadata.optional(),
    vault_ids: z.array(z.string().min(1).max(64)).max(20).optional(),
  })
  .strict();
export const sessionUpdateBody = z
  .object({ title: z.string().max(512).nullish(), metadata: metadataPatch.nullish() })
  .strict();

const textBlock = z.object({ type: z.literal('text'), text: z.string().min(1) }).strict();
const imageBlock = imageBlockSchema;
const userMessage = z
  .object({
    type: z.literal('user.message'),
    content: z
      .array(z.discriminatedUnion('type', [textBlock, imageBlock]))
      .min(1)
      .max(100),
  })
  .strict();
const userInterrupt = z
  .object({ type: z.literal('user.interrupt'), session_thread_id: z.null().optional() })
  .strict();
const resultBlocks = z.array(z.discriminatedUnion('type', [textBlock, imageBlock])).max(100);
const toolConfirmation = z
  .object({
    type: z.literal('user.tool_confirmation'),
    tool_use_id: z.string().min(1).max(64),
    result: z.enum(['allow', 'deny']),
    deny_message: z.string().min(1).max(10_000).nullish(),
  })
  .strict();
const customToolResult = z
  .object({
    type: z.literal('user.custom_tool_result'),
    custom_tool_use_id: z.string().min(1).max(64),
    content: resultBlocks.optional(),
    is_error: z.boolean().nullish(),
  })
  .strict();
export const sendableEvent = z.discriminatedUnion('type', [
  userMessage,
  userInterrupt,
  toolConfirmation,
  customToolResult,
]);
export type SendableEvent = z.infer<typeof sendableEvent>;
export const eventsSendBody = z.object({ events: z.array(z.unknown()).min(1).max(50) }).strict();

/** Fields and values of the SDK's types that Workcell does not serve, named in the 400. */
const UNSUPPORTED_FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  agent: {
    multiagent: 'multiagent (multiagent)',
    skills: 'skills (skills)',
    execution_identity: 'execution identities (execution_identity)',
  },
  environment: { scope: 'environment scopes (scope)' },
  session: {
    resources: 'session resources (resources)',
    budget: 'session budgets (budget)',
    initial_events: 'initial events (initial_events)',
    deployment_id: 'deployments (deployment_id)',
  },
  sessionUpdate: {
    agent: 'session agent updates (agent)',
    budget: 'session budgets (budget)',
    vault_ids: 'changing vault_ids of a session',
  },
};

/** Throws a 400 naming the first field of `body` Workcell does not serve. */
export function refuseUnsupported(kind: keyof typeof UNSUPPORTED_FIELDS, body: unknown): void {
  if (typeof body !== 'object' || body === null) return;
  const fields = UNSUPPORTED_FIELDS[kind] ?? {};
  for (const [field, feature] of Object.entries(fields)) {
    const value = (body as Record<string, unknown>)[field];
    const empty =
      value === undefined || value === null || (Array.isArray(value) && value.length === 0);
    if (!empty) throw unsupported(feature);
  }
}

/** Validates `value`; a failure answers 400 `invalid_request_error` naming the field. */
export function parseWith<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where = 'body',
): z.output<T> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((i) => `${[where, ...i.path].join('.')}: ${i.message}`)
      .join('; ');
    throw new AnthropicApiError('invalid_request_error', detail);
  }
  return parsed.data;
}
