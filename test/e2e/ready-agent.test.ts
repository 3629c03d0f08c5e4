import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, docker, startTestHost, type TestHost } from '../support/host.js';
import {
  readyCount,
  readyRuns,
  waitForContainerReady,
  waitForReady,
  waitForWarmReady,
} from '../support/ready.js';

/** What reaches the model: the memory file's marker lines and the tools offered. */
const ECHO_CONTEXT = 'MOCK:{"echo": "context", "grep": "READY-MARKER"}\nMOCK:{"echo": "tools"}';

function resultText(events: readonly { event: string; data: unknown }[]): string {
  const completed = dataOf<{ result: string | null }>(events, 'run.completed')[0];
  return completed?.result ?? '';
}

function completed(events: readonly { event: string }[]): void {
  expect(events.map((e) => e.event).at(-1)).toBe('run.completed');
}

/**
 * Ready agents (WORKCELL_AGENT_PREWARM on, the default): a warm container's agent has Claude
 * Code started for the operator's defaults, and after a run the agent starts the next turn of
 * that conversation; a run takes the process only when nothing it read at start has changed.
 */
describe('a message reaches a Claude Code process that is already running', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost({ warmPoolSize: 1, agentReadyIdleMs: 120_000 });
    await waitForReady(host, 1);
  });

  afterAll(async () => {
    await host?.close();
  });

  async function containerOf(workspaceId: string): Promise<string> {
    return (await host.wc.workspaces.get(workspaceId)).container?.id ?? '';
  }

  it('health and metrics count the warm container whose agent is ready', async () => {
    const health = await host.wc.health();
    expect(health.pool).toMatchObject({ warm: 1, ready: 1 });
    const text = await host.workcell.metrics.render();
    expect(text).toMatch(/^workcell_agent_ready 1$/m);
  });

  it('the first message of a new workspace and its follow-up both use a ready process', async () => {
    await waitForWarmReady(host);
    const { workspaceId, conversationId } = await host.conversation();
    const before = await readyRuns(host);
    const first = await host.send(conversationId, 'MOCK:{"text": "first answer"}');
    completed(first);
    expect(resultText(first)).toBe('first answer');
    expect((await readyRuns(host)).used).toBe(before.used + 1);

    // This workspace's next turn.
    await waitForContainerReady(host, await containerOf(workspaceId));
    const second = await host.send(conversationId, 'MOCK:{"text": "second answer"}');
    completed(second);
    expect(resultText(second)).toBe('second answer');
    expect((await readyRuns(host)).used).toBe(before.used + 2);
    const conversation = await host.wc.conversations.get(conversationId);
    // The follow-up resumed the session the first message started.
    expect(conversation.runs.map((r) => r.summary?.sessionId)).toEqual([
      conversation.sessionId,
      conversation.sessionId,
    ]);

    // Another conversation of the same workspace is not the process's session.
    await waitForContainerReady(host, await containerOf(workspaceId));
    const other = await host.wc.conversations.create(workspaceId);
    const third = await host.send(other.id, 'MOCK:{"text": "other conversation"}');
    completed(third);
    expect(resultText(third)).toBe('other conversation');
    expect((await readyRuns(host)).fallback['session_changed']).toBeGreaterThanOrEqual(1);
    const again = await host.wc.conversations.get(other.id);
    expect(again.sessionId).not.toBe(conversation.sessionId);
  });

  it('a ready process sees the same memory file and settings as a fresh one', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    await host.wc.files.upload(workspaceId, 'CLAUDE.md', 'READY-MARKER one\n');
    await host.wc.files.upload(
      workspaceId,
      '.claude/settings.json',
      JSON.stringify({ permissions: { deny: ['Bash'] } }),
    );
    await waitForWarmReady(host);
    const before = await readyRuns(host);
    // The warm container's process started before these files existed: a fresh one runs.
    completed(await host.send(conversationId, 'MOCK:{"text": "hello"}'));
    const after = await readyRuns(host);
    expect(after.fallback['workspace_changed']).toBe(
      (before.fallback['workspace_changed'] ?? 0) + 1,
    );

    // Nothing changed: the follow-up goes to the ready process.
    await waitForContainerReady(host, await containerOf(workspaceId));
    const ready = await host.send(conversationId, ECHO_CONTEXT);
    completed(ready);
    expect((await readyRuns(host)).used).toBe(after.used + 1);

    // The same two turns in another conversation, the second on a fresh process (one message's
    // maxTurns is not the ready process's options).
    const other = await host.wc.conversations.create(workspaceId);
    completed(await host.send(other.id, 'MOCK:{"text": "hello"}'));
    const fresh = await host.send(other.id, ECHO_CONTEXT, { maxTurns: 7 });
    completed(fresh);
    const counted = await readyRuns(host);
    expect(counted.fallback['session_changed']).toBeGreaterThanOrEqual(1);
    expect(counted.fallback['options_changed']).toBeGreaterThanOrEqual(1);

    expect(resultText(ready)).toContain('READY-MARKER one');
    expect(resultText(ready)).not.toMatch(/^Bash$/m);
    expect(resultText(ready)).toBe(resultText(fresh));

    // The memory file changed since the process started: a fresh one reads the new text.
    await waitForContainerReady(host, await containerOf(workspaceId));
    await host.wc.files.upload(workspaceId, 'CLAUDE.md', 'READY-MARKER two\n');
    const changed = await host.send(other.id, ECHO_CONTEXT, { maxTurns: 7 });
    completed(changed);
    expect(resultText(changed)).toContain('READY-MARKER two');
    expect((await readyRuns(host)).fallback['workspace_changed']).toBe(
      (after.fallback['workspace_changed'] ?? 0) + 1,
    );
  });

  it('a conversation started on a ready process resumes in a fresh container', async () => {
    await waitForWarmReady(host);
    const { workspaceId, conversationId } = await host.conversation();
    const before = await readyRuns(host);
    const first = await host.send(
      conversationId,
      'MOCK:{"tool": "Write", "input": {"file_path": "a.txt", "content": "from the ready process"}}',
    );
    completed(first);
    expect((await readyRuns(host)).used).toBe(before.used + 1);
    const sessionId = (await host.wc.conversations.get(conversationId)).sessionId;
    expect(sessionId).toBeTruthy();

    const container = (await host.wc.workspaces.get(workspaceId)).container;
    expect(container).not.toBeNull();
    await host.workcell.orchestrator.remove(container?.id ?? '', 'test: a fresh container');

    const resumed = await host.send(
      conversationId,
      'MOCK:{"echo": "context", "grep": "from the ready process"}',
    );
    completed(resumed);
    // The transcript came back from the object store: the earlier tool call is in the context.
    expect(resultText(resumed)).toContain('from the ready process');
    const after = await host.wc.conversations.get(conversationId);
    expect(after.sessionId).toBe(sessionId);
    expect((await host.wc.workspaces.get(workspaceId)).container?.id).not.toBe(container?.id);
  });

  it('a ready process that died is replaced by a fresh one and the run completes', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    completed(await host.send(conversationId, 'MOCK:{"text": "before"}'));
    const containerId = (await host.wc.workspaces.get(workspaceId)).container?.id ?? '';
    await waitForContainerReady(host, containerId);
    // The only Claude Code process in the container now is the one waiting for the next turn.
    await docker('exec', containerId, 'pkill', '-KILL', '-f', '/opt/workcell/claude/claude');
    const before = await readyRuns(host);
    const after = await host.send(conversationId, 'MOCK:{"text": "after"}');
    completed(after);
    expect(resultText(after)).toBe('after');
    expect((await readyRuns(host)).fallback['process_failed']).toBe(
      (before.fallback['process_failed'] ?? 0) + 1,
    );
    const conversation = await host.wc.conversations.get(conversationId);
    expect(conversation.runs.at(-1)?.summary?.sessionId).toBe(conversation.sessionId);
  });

  it('an interrupt stops a run on a ready process as it stops any run', async () => {
    const { conversationId } = await host.conversation();
    await waitForWarmReady(host);
    const before = await readyRuns(host);
    const stream = host.wc.conversations.send(conversationId, 'MOCK:{"sleep_ms": 20000}');
    const events: { event: string; data: unknown }[] = [];
    let interrupted = false;
    for await (const event of stream) {
      events.push(event);
      if (!interrupted && event.event === 'message') {
        interrupted = true;
        const runId = dataOf<{ runId: string }>(events, 'run.started')[0]?.runId ?? '';
        await host.wc.conversations.interrupt(conversationId, runId);
      }
    }
    expect(events.at(-1)?.event).toBe('run.completed');
    expect(dataOf<{ interrupted: boolean }>(events, 'run.completed')[0]?.interrupted).toBe(true);
    expect((await readyRuns(host)).used).toBe(before.used + 1);
    expect(await readyCount(host)).toBeGreaterThanOrEqual(0);
  });
});

describe('a run on a ready process that outlives WORKCELL_RUN_TIMEOUT_MS', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost({ warmPoolSize: 1, runTimeoutMs: 4000 });
    await waitForReady(host, 1);
  });

  afterAll(async () => {
    await host?.close();
  });

  it('fails with run_timeout as any run does, and the next message runs', async () => {
    const { conversationId } = await host.conversation();
    const before = await readyRuns(host);
    const events = await host.send(conversationId, 'MOCK:{"sleep_ms": 30000}');
    expect((await readyRuns(host)).used).toBe(before.used + 1);
    expect(events.at(-1)?.event).toBe('run.failed');
    expect(dataOf<{ code: string }>(events, 'run.failed')[0]?.code).toBe('run_timeout');

    const next = await host.send(conversationId, 'MOCK:{"text": "after the timeout"}');
    completed(next);
    expect(resultText(next)).toBe('after the timeout');
  });
});
