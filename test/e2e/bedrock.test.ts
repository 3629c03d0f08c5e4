import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startTestHost, toolUses, type TestHost } from '../support/host.js';

/**
 * Bedrock mode: the real SDK in the container speaks the Bedrock API to the bridge; the proxy
 * signs every request with SigV4 from the host's AWS credential chain (temporary credentials
 * here, so X-Amz-Security-Token is signed too); the mock verifies each signature with an
 * independent implementation (aws4) and answers in AWS event-stream framing.
 */
describe('Bedrock mode through the SigV4 proxy', () => {
  const credentials = {
    accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(20).toString('base64'),
    sessionToken: `IQoJb3JpZ2luX2VjE${randomBytes(24).toString('base64url')}`,
  };
  const saved = { ...process.env };
  let host: TestHost;

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
    process.env.AWS_SESSION_TOKEN = credentials.sessionToken;
    delete process.env.AWS_PROFILE;
    host = await startTestHost({
      modelProvider: 'bedrock',
      awsRegion: 'us-east-1',
      mock: { bedrock: { region: 'us-east-1', credentials } },
    });
  });

  afterAll(async () => {
    await host?.close();
    process.env = saved;
  });

  it('completes a tool-using run of the real SDK with every request signed and verified', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    const events = await host.send(
      conversationId,
      'MOCK:{"tool": "Write", "input": {"file_path": "bedrock.txt", "content": "signed\\n"}}\nMOCK:{"text": "ok"}',
    );
    expect(events.at(-1)?.event).toBe('run.completed');
    expect(dataOf<{ isError: boolean }>(events, 'run.completed')[0]?.isError).toBe(false);
    expect(toolUses(events).map((t) => t.name)).toEqual(['Write']);

    const bedrock = host.mock.requests.filter((r) => r.api === 'bedrock');
    expect(bedrock.some((r) => r.path.includes('/invoke'))).toBe(true);
    for (const r of bedrock) expect(r.signatureValid).toBe(true);
    expect(host.mock.requests.filter((r) => r.api === 'anthropic')).toEqual([]);

    const file = await host.api(`/v1/workspaces/${workspaceId}/files/bedrock.txt`);
    expect(await file.text()).toBe('signed\n');

    for (const line of host.logs) {
      expect(line.includes(credentials.secretAccessKey)).toBe(false);
      expect(line.includes(credentials.sessionToken)).toBe(false);
    }
    const audit = JSON.stringify(host.workcell.audit.recent(workspaceId, 1000));
    expect(audit).toContain('aws-sigv4');
    expect(audit.includes(credentials.secretAccessKey)).toBe(false);
    expect(audit.includes(credentials.sessionToken)).toBe(false);
  });
});
