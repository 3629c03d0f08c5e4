import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, type TestHost } from '../support/host.js';
import { putAgent, resultOf, workspaceWith } from './support.js';

/**
 * The settings that reach the model under Bedrock: an inference-profile id (and an ARN) as the
 * model, the appended prompt and CLAUDE.md, the tool list; every request still SigV4-signed.
 */
describe('agent settings take effect (Bedrock)', () => {
  const credentials = {
    accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(20).toString('base64'),
  };
  const profile = 'us.anthropic.claude-sonnet-4-20250514-v1:0';
  const arn = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/team1abc';
  const saved = { ...process.env };
  let host: TestHost;

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    host = await startTestHost({
      modelProvider: 'bedrock',
      awsRegion: 'us-east-1',
      model: profile,
      modelsAllowed: `${profile},${arn}`,
      mock: { bedrock: { region: 'us-east-1', credentials } },
    });
  });

  afterAll(async () => {
    await host?.close();
    process.env = saved;
  });

  it('sends the configured inference profile, then the workspace ARN, to the Bedrock model path', async () => {
    const { workspaceId, conversationId } = await workspaceWith(host);
    expect(resultOf(await host.send(conversationId, 'MOCK:{"echo": "model"}'))).toBe(profile);
    expect((await putAgent(host, workspaceId, { model: arn })).status).toBe(200);
    expect(resultOf(await host.send(conversationId, 'MOCK:{"echo": "model"}'))).toBe(arn);
    const invoked = host.mock.requests.filter((r) => r.path.includes('/invoke'));
    expect(invoked.map((r) => r.model)).toContain(arn);
    for (const r of host.mock.requests.filter((q) => q.api === 'bedrock'))
      expect(r.signatureValid).toBe(true);
    expect(
      (await putAgent(host, workspaceId, { model: 'anthropic.claude-v2' })).body,
    ).toMatchObject({
      error: { code: 'model_not_allowed' },
    });
  });

  it('appends the workspace prompt and CLAUDE.md, and removes disallowed tools', async () => {
    const { workspaceId, conversationId } = await workspaceWith(host, {
      appendSystemPrompt: 'Bedrock team says BR-MARKER-1.',
      disallowedTools: ['Bash'],
    });
    await host.api(`/v1/workspaces/${workspaceId}/files/CLAUDE.md`, {
      method: 'PUT',
      body: 'Bedrock project rule BR-MARKER-2.\n',
    });
    const context = resultOf(
      await host.send(conversationId, 'MOCK:{"echo": "context", "grep": "BR-MARKER-"}'),
    );
    expect(context).toContain('Bedrock team says BR-MARKER-1.');
    expect(context).toContain('Bedrock project rule BR-MARKER-2.');
    const tools = resultOf(await host.send(conversationId, 'MOCK:{"echo": "tools"}')).split('\n');
    expect(tools).toContain('Write');
    expect(tools).not.toContain('Bash');
  });
});
