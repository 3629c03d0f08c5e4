import { z } from 'zod';

/**
 * The parts of an agent's settings both sides check: the host when a client sets them, the
 * agent again before it hands them to the SDK.
 */

/** Permission modes a run may use; `bypassPermissions` (no prompts: the container is the sandbox) is the default. */
export const PERMISSION_MODES = [
  'bypassPermissions',
  'acceptEdits',
  'default',
  'dontAsk',
  'plan',
] as const;
export type PermissionMode = (typeof PERMISSION_MODES)[number];

/**
 * Filesystem settings the CLI reads from the workspace: `project` is `CLAUDE.md` and
 * `.claude/settings.json`, `local` is `.claude/settings.local.json`. The user scope is not
 * offered: the CLI's config directory holds session transcripts, not a user's settings.
 */
export const SETTING_SOURCES = ['project', 'local'] as const;
export type SettingSource = (typeof SETTING_SOURCES)[number];

/** Model ids: Anthropic names, Bedrock model ids, inference-profile ids and ARNs. */
export const modelIdSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/, 'must be a model id (letters, digits and ._:/@+-)')
  .describe(
    'a model id: an Anthropic model name, or a Bedrock model id, inference-profile id or ARN',
  );

export const toolListSchema = z
  .array(
    z
      .string()
      .min(1)
      .max(300)
      .regex(/^[^\n\r]+$/, 'one line'),
  )
  .max(200);

export const thinkingSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('adaptive') }).strict(),
    z
      .object({ type: z.literal('enabled'), budgetTokens: z.number().int().min(1024).max(128_000) })
      .strict(),
    z.object({ type: z.literal('disabled') }).strict(),
  ])
  .describe('extended thinking: adaptive, a fixed token budget, or off');
export type Thinking = z.infer<typeof thinkingSchema>;

/** Names of MCP servers: they become the `mcp__<name>__` prefix of their tools. */
export const MCP_SERVER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const mcpServerSchema = z
  .object({
    type: z.enum(['http', 'sse']).describe('the MCP transport: streamable HTTP or SSE'),
    url: z
      .string()
      .max(2000)
      .refine(
        (u) => /^https?:\/\//i.test(u) && URL.canParse(u),
        'must be an http:// or https:// URL',
      )
      .describe("the server's URL; its host joins the workspace's egress policy"),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/), z.string().max(8000))
      .optional()
      .describe(
        'headers sent with every request (the agent can read them: no host credential here)',
      ),
  })
  .strict();
export type McpServer = z.infer<typeof mcpServerSchema>;

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

const REFUSED_ENV_NAMES = new Set([
  'PATH',
  'HOME',
  'SHELL',
  'BASH_ENV',
  'ENV',
  'IS_SANDBOX',
  'NO_PROXY',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'CURL_CA_BUNDLE',
  'REQUESTS_CA_BUNDLE',
  'GIT_PROXY_COMMAND',
  'GIT_SSL_NO_VERIFY',
  'GIT_SSL_CAINFO',
]);
const REFUSED_ENV_PREFIXES = [
  'ANTHROPIC_',
  'AWS_',
  'CLAUDE_',
  'WORKCELL_',
  'NODE_',
  'LD_',
  'DYLD_',
  'DISABLE_',
  'VERTEX_',
  'CLOUD_ML_',
  'GOOGLE_',
  'AZURE_',
];

/**
 * Why an environment variable cannot be set by a workspace (null when it can): names that
 * would route traffic around the proxy (`*_PROXY`, `NO_PROXY`), point at credentials or model
 * endpoints (`ANTHROPIC_*`, `AWS_*`, `CLAUDE_*`, ...), or change how processes load code
 * (`NODE_OPTIONS`, `LD_*`, `BASH_ENV`, ...). Case does not matter.
 */
export function refusedEnvName(name: string): string | null {
  if (!ENV_NAME.test(name)) return 'is not a valid variable name';
  const upper = name.toUpperCase();
  if (upper.endsWith('_PROXY') || upper === 'PROXY') return 'would route traffic around the proxy';
  if (REFUSED_ENV_NAMES.has(upper)) return 'is reserved by the sandbox';
  const prefix = REFUSED_ENV_PREFIXES.find((p) => upper.startsWith(p));
  if (prefix)
    return `is reserved (${prefix}* names configure the model, credentials or the runtime)`;
  return null;
}

/**
 * The zod check of an environment a workspace sets: at most `maxVariables` names, each one
 * `refusedEnvName` lets through; a refused name is an issue the API answers `env_not_allowed`
 * (`api/validate.ts` reads `params.errorCode`).
 */
export function checkEnvNames(maxVariables: number) {
  return (env: Record<string, string>, ctx: z.RefinementCtx): void => {
    const names = Object.keys(env);
    if (names.length > maxVariables)
      ctx.addIssue({ code: 'custom', message: `at most ${maxVariables} variables` });
    for (const name of names) {
      const why = refusedEnvName(name);
      if (why)
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `${name} ${why}`,
          params: { errorCode: 'env_not_allowed' },
        });
    }
  };
}
