import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startTestHost, toolUses, type TestHost } from '../support/host.js';
import { readyCount, readyRuns } from '../support/ready.js';

/**
 * The main path with ready processes off (WORKCELL_AGENT_PREWARM=false): every run starts
 * Claude Code itself, on a warm container and on an assigned one, and nothing is kept started.
 */
describe('with WORKCELL_AGENT_PREWARM=false every run starts its own Claude Code', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost({ warmPoolSize: 1, agentPrewarm: 'false' });
    await host.workcell.pool.settled();
  });

  afterAll(async () => {
    await host?.close();
  });

  it('runs tools, resumes the conversation and keeps no process ready', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    await host.wc.files.upload(workspaceId, 'input.txt', 'input from the user\n');
    const first = await host.send(
      conversationId,
      [
        'MOCK:{"tool": "Write", "input": {"file_path": "hello.txt", "content": "hello\\n"}}',
        'MOCK:{"tool": "Bash", "input": {"command": "cat input.txt > copy.txt"}}',
        'MOCK:{"text": "all done"}',
      ].join('\n'),
    );
    expect(first.at(-1)?.event).toBe('run.completed');
    expect(toolUses(first).map((t) => t.name)).toEqual(['Write', 'Bash']);
    expect(await host.wc.files.text(workspaceId, 'copy.txt')).toBe('input from the user\n');

    const second = await host.send(conversationId, 'MOCK:{"echo": "context", "grep": "hello"}');
    expect(second.at(-1)?.event).toBe('run.completed');
    const conversation = await host.wc.conversations.get(conversationId);
    expect(conversation.runs.map((r) => r.summary?.sessionId)).toEqual([
      conversation.sessionId,
      conversation.sessionId,
    ]);
    expect(dataOf<{ result: string }>(second, 'run.completed')[0]?.result).toContain('hello');

    const counted = await readyRuns(host);
    expect(counted.used).toBe(0);
    expect(counted.fallback['disabled']).toBe(2);
    expect(await readyCount(host)).toBe(0);
    expect(await host.workcell.metrics.render()).toMatch(/^workcell_agent_ready 0$/m);
  });

  it('an interrupt ends the run as interrupted', async () => {
    const { conversationId } = await host.conversation();
    const events: { event: string; data: unknown }[] = [];
    let interrupted = false;
    for await (const event of host.wc.conversations.send(
      conversationId,
      'MOCK:{"sleep_ms": 20000}',
    )) {
      events.push(event);
      if (!interrupted && event.event === 'message') {
        interrupted = true;
        const runId = dataOf<{ runId: string }>(events, 'run.started')[0]?.runId ?? '';
        await host.wc.conversations.interrupt(conversationId, runId);
      }
    }
    expect(events.at(-1)?.event).toBe('run.completed');
    expect(dataOf<{ interrupted: boolean }>(events, 'run.completed')[0]?.interrupted).toBe(true);
  });
});
