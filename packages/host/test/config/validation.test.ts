import { WorkcellError } from '@workcell/protocol';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

/** The error loadConfig throws for `env`, or a failure when it accepts it. */
function rejection(env: Record<string, string>): WorkcellError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof WorkcellError) return err;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('configuration validation', () => {
  it('starts with every default when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      runtime: 'runc',
      warmPoolSize: 2,
      containerMemoryMb: 2048,
      containerCpus: 1,
      containerPids: 512,
      image: `workcell/workspace:${config.version}`,
    });
  });

  it('takes a Redis Cluster as redis+cluster:// seed nodes', () => {
    const url = 'redis+cluster://127.0.0.1:7101,127.0.0.1:7102';
    expect(loadConfig({ WORKCELL_REDIS_URL: url }).redisUrl).toBe(url);
  });

  it('reads the gVisor runtime from WORKCELL_RUNTIME', () => {
    expect(loadConfig({ WORKCELL_RUNTIME: 'runsc' }).runtime).toBe('runsc');
  });

  const bad: [string, string][] = [
    ['WORKCELL_PORT', '70000'],
    ['WORKCELL_PORT', 'eighty'],
    ['WORKCELL_RUNTIME', 'kata'],
    ['WORKCELL_MODEL_PROVIDER', 'openai'],
    ['WORKCELL_REDIS_URL', 'not a url'],
    ['WORKCELL_REDIS_URL', 'redis+cluster://127.0.0.1'],
    ['WORKCELL_S3_ENDPOINT', '//minio:9000'],
    ['WORKCELL_API_TOKENS', 'short=tenant'],
    ['WORKCELL_API_TOKENS', 'a-long-enough-token-value=bad tenant'],
    ['WORKCELL_CONTAINER_MEMORY_MB', '16'],
    ['WORKCELL_CONTAINER_CPUS', '0'],
    ['WORKCELL_CONTAINER_PIDS', '1.5'],
    ['WORKCELL_WARM_POOL_SIZE', '-1'],
    ['WORKCELL_IDLE_TIMEOUT_MS', '10'],
    ['WORKCELL_LOG_LEVEL', 'loud'],
    ['WORKCELL_HOST_ID', 'has spaces'],
    ['WORKCELL_EGRESS_ALLOW', '*.com'],
    ['WORKCELL_MODEL', 'has spaces'],
    ['WORKCELL_MODELS_ALLOWED', 'ok-model,bad model'],
    ['WORKCELL_AGENT_DEFAULTS', 'not json'],
    ['WORKCELL_AGENT_DEFAULTS', '{"maxTurns": 0}'],
    ['WORKCELL_AGENT_DEFAULTS', '{"env": {"HTTPS_PROXY": "http://x"}}'],
    ['WORKCELL_AGENT_CUSTOM_SYSTEM_PROMPT', 'yes'],
    ['WORKCELL_MAX_IMAGE_BYTES', '-1'],
  ];

  it.each(bad)('refuses %s=%s with a message naming the variable', (variable, value) => {
    const err = rejection({ [variable]: value });
    expect(err.code).toBe('validation_failed');
    expect(err.message).toContain(`${variable}:`);
  });

  it('reads the agent defaults and refuses a default model outside the allowed list', () => {
    const config = loadConfig({
      WORKCELL_MODEL: 'us.anthropic.claude-sonnet-4-20250514-v1:0',
      WORKCELL_MODELS_ALLOWED: 'us.anthropic.claude-sonnet-4-20250514-v1:0, claude-team-a',
      WORKCELL_AGENT_DEFAULTS: '{"appendSystemPrompt": "Be kind.", "maxTurns": 20}',
      WORKCELL_AGENT_CUSTOM_SYSTEM_PROMPT: 'true',
    });
    expect(config).toMatchObject({
      model: 'us.anthropic.claude-sonnet-4-20250514-v1:0',
      modelsAllowed: ['us.anthropic.claude-sonnet-4-20250514-v1:0', 'claude-team-a'],
      agentDefaults: { appendSystemPrompt: 'Be kind.', maxTurns: 20 },
      agentCustomSystemPrompt: true,
    });
    expect(loadConfig({}).agentCustomSystemPrompt).toBe(false);
    const err = rejection({ WORKCELL_MODEL: 'claude-x', WORKCELL_MODELS_ALLOWED: 'claude-y' });
    expect(err.message).toContain(
      'WORKCELL_MODEL: model "claude-x" is not in WORKCELL_MODELS_ALLOWED',
    );
    const mcp = rejection({
      WORKCELL_AGENT_DEFAULTS: '{"mcpServers": {"x": {"type": "http", "url": "http://bad host/"}}}',
    });
    expect(mcp.message).toContain('WORKCELL_AGENT_DEFAULTS');
  });

  it('names every bad variable at once', () => {
    const err = rejection({
      WORKCELL_PORT: '-1',
      WORKCELL_RUNTIME: 'kata',
      WORKCELL_CONTAINER_PIDS: '2',
    });
    for (const variable of ['WORKCELL_PORT', 'WORKCELL_RUNTIME', 'WORKCELL_CONTAINER_PIDS'])
      expect(err.message).toContain(variable);
  });

  it('never echoes a secret value in the message', () => {
    const secret = 'sk-ant-this-must-not-appear-0123456789';
    const err = rejection({ WORKCELL_API_TOKENS: `${secret}=bad tenant` });
    expect(err.message).toContain('WORKCELL_API_TOKENS');
    expect(err.message).not.toContain(secret);
  });
});
