import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startTestHost, type TestHost } from '../support/host.js';
import { readyRuns } from '../support/ready.js';

/** What reaches the model: the memory file's marker lines and the tools offered. */
const ECHO_CONTEXT = 'MOCK:{"echo": "context", "grep": "COLD-MARKER"}\nMOCK:{"echo": "tools"}';

function resultText(events: readonly { event: string; data: unknown }[]): string {
  return dataOf<{ result: string | null }>(events, 'run.completed')[0]?.result ?? '';
}

/**
 * No warm pool: every first message starts a container of its own. The workspace's files are
 * synced into it before it starts, and its agent starts Claude Code for that run as it boots,
 * so the run takes a process that is already starting, with the files it reads at start.
 */
describe('a container started for a message', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost({ warmPoolSize: 0 });
  });

  afterAll(async () => {
    await host?.close();
  });

  it("runs on the process its agent started as it booted, with the workspace's memory file in place", async () => {
    const { workspaceId, conversationId } = await host.conversation();
    await host.wc.files.upload(workspaceId, 'CLAUDE.md', 'COLD-MARKER from the store\n');
    const before = await readyRuns(host);
    const events = await host.send(conversationId, ECHO_CONTEXT);
    expect(events.at(-1)?.event).toBe('run.completed');
    expect(resultText(events)).toContain('COLD-MARKER from the store');
    const after = await readyRuns(host);
    expect(after.used).toBe(before.used + 1);
    expect(after.fallback).toEqual(before.fallback);
  });

  it('a conversation whose container went away resumes on a process started for its session', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    const first = await host.send(
      conversationId,
      'MOCK:{"tool": "Write", "input": {"file_path": "a.txt", "content": "written before"}}',
    );
    expect(first.at(-1)?.event).toBe('run.completed');
    const container = (await host.wc.workspaces.get(workspaceId)).container;
    await host.workcell.orchestrator.remove(container?.id ?? '', 'test: a fresh container');

    const before = await readyRuns(host);
    const resumed = await host.send(
      conversationId,
      'MOCK:{"echo": "context", "grep": "written before"}',
    );
    expect(resumed.at(-1)?.event).toBe('run.completed');
    // The transcript was in place before the process started: the earlier call is in context.
    expect(resultText(resumed)).toContain('written before');
    expect((await readyRuns(host)).used).toBe(before.used + 1);
    expect((await host.wc.workspaces.get(workspaceId)).container?.id).not.toBe(container?.id);
  });

  it("a message's own settings are what its process is started with", async () => {
    const { conversationId } = await host.conversation();
    const before = await readyRuns(host);
    const events = await host.send(conversationId, 'MOCK:{"text": "with options"}', {
      maxTurns: 5,
    });
    expect(resultText(events)).toBe('with options');
    expect((await readyRuns(host)).used).toBe(before.used + 1);
  });
});
