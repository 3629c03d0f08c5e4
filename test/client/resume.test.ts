import { WorkcellClient, type RunEvent } from '@workcell/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCuttableProxy, type CuttableProxy } from '../support/cuttable-proxy.js';
import { startTestHost, type TestHost } from '../support/host.js';

/**
 * The client's run stream against a real host when the network fails mid-run: every connection
 * is cut (twice), the loop goes on by itself, and what it delivered is exactly the run's record.
 */
describe('@workcell/client when the connection is cut mid-run', () => {
  let host: TestHost;
  let proxy: CuttableProxy;

  beforeAll(async () => {
    host = await startTestHost();
    proxy = await startCuttableProxy(host.url);
  });

  afterAll(async () => {
    await proxy?.close();
    await host?.close();
  });

  it('resumes with Last-Event-ID and delivers every event once, in order, to the terminal event', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    const wc = new WorkcellClient({
      baseUrl: proxy.url,
      token: host.token,
      reconnect: { delayMs: 50 },
    });
    const prompt = [
      'MOCK:{"chunks": 40, "chunk_text": "x"}',
      'MOCK:{"tool": "Write", "input": {"file_path": "cut.txt", "content": "still written\\n"}}',
      'MOCK:{"sleep_ms": 2000}',
      'MOCK:{"text": "after the cuts"}',
    ].join('\n');

    const got: RunEvent[] = [];
    const cutsAt: number[] = [];
    for await (const event of wc.conversations.send(conversationId, prompt)) {
      got.push(event);
      const toolResult =
        event.event === 'message' &&
        event.data.type === 'user' &&
        JSON.stringify(event.data).includes('tool_result');
      if (event.seq === 3 || toolResult) {
        cutsAt.push(event.seq);
        proxy.cut();
      }
    }

    expect(cutsAt).toHaveLength(2);
    // One connection for the message, then one per resumption at least.
    expect(proxy.connections).toBeGreaterThanOrEqual(3);
    expect(got.at(-1)?.event).toBe('run.completed');
    expect(got.map((e) => e.seq)).toEqual(got.map((_, i) => i + 1));

    // What the loop delivered is the run's record, event for event.
    const history = await host.wc.conversations.history(conversationId);
    expect(history.runs).toHaveLength(1);
    expect(got).toEqual(history.runs[0]?.events);
    expect(await host.wc.files.text(workspaceId, 'cut.txt')).toBe('still written\n');
  });
});
