import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker } from '../support/host.js';
import { dataOf, startHost, waitFor, type OrchestratorTestHost } from './support.js';

const IDLE_TIMEOUT_MS = 1_000;

describe('garbage collection of idle containers', () => {
  let host: OrchestratorTestHost;

  beforeAll(async () => {
    host = await startHost({ idleTimeoutMs: IDLE_TIMEOUT_MS });
  });

  afterAll(async () => {
    await host?.close();
  });

  it("syncs an idle container's files to the object store, then removes it, once the idle timeout has passed", async () => {
    const { workspaceId, conversationId } = await host.conversation();
    const events = await host.send(
      conversationId,
      'MOCK:{"tool": "Write", "input": {"file_path": "a.txt", "content": "from the run"}}',
    );
    expect(events.at(-1)?.event, JSON.stringify(dataOf(events, 'run.failed'))).toBe(
      'run.completed',
    );
    const containerId = (await host.workspace(workspaceId)).container?.id ?? '';
    expect(containerId).toMatch(/^[0-9a-f]{64}$/);

    // A process the agent left behind writes after the run's own sync out.
    await docker(
      'exec',
      '-u',
      '1000',
      containerId,
      'sh',
      '-c',
      'echo written later > /workspace/late.txt',
    );
    let filesWhenRemoved: string[] | null = null;
    host.runtime.beforeRemove = async (id) => {
      if (id === containerId) filesWhenRemoved = await host.fileList(workspaceId);
    };

    const early = await host.workcell.gc.runOnce();
    expect(early.removed).toEqual([]);
    await sleep(IDLE_TIMEOUT_MS + 100);
    const report = await host.workcell.gc.runOnce();
    host.runtime.beforeRemove = null;

    expect(report.removed, `container ${containerId}`).toEqual([
      { id: containerId, reason: 'idle timeout' },
    ]);
    expect(filesWhenRemoved).toEqual(['a.txt', 'late.txt']);
    expect(await host.workcell.runtime.inspect(containerId)).toBeNull();
    expect((await host.workspace(workspaceId)).container).toBeNull();
    expect(await host.file(workspaceId, 'late.txt')).toBe('written later\n');

    // The next message starts a new container with the files.
    const next = await host.send(
      conversationId,
      'MOCK:{"tool": "Bash", "input": {"command": "cat late.txt a.txt > both.txt"}}',
    );
    expect(next.at(-1)?.event).toBe('run.completed');
    expect(await host.file(workspaceId, 'both.txt')).toBe('written later\nfrom the run');
  });

  it('never touches a container whose run lasts past the idle timeout', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    expect((await host.send(conversationId, 'MOCK:{"text": "first"}')).at(-1)?.event).toBe(
      'run.completed',
    );
    const containerId = (await host.workspace(workspaceId)).container?.id ?? '';
    await sleep(IDLE_TIMEOUT_MS + 100);

    const runId = await host.post(
      conversationId,
      'MOCK:{"sleep_ms": 4000}\nMOCK:{"text": "slow answer"}',
    );
    await waitFor(
      'the run to start',
      async () => (await host.workspace(workspaceId)).container?.state === 'running',
    );
    await sleep(IDLE_TIMEOUT_MS + 100);
    const report = await host.workcell.gc.runOnce();
    expect(report.removed.map((r) => r.id)).not.toContain(containerId);
    expect(report.kept).toBeGreaterThanOrEqual(1);
    expect((await host.workcell.runtime.inspect(containerId))?.running).toBe(true);

    await waitFor(
      'the run to end',
      async () => {
        const conv = await host.wc.conversations.get(conversationId);
        return conv.runs.find((r) => r.id === runId)?.status !== 'running';
      },
      30_000,
    );
    const conv = await host.wc.conversations.get(conversationId);
    expect(conv.runs.find((r) => r.id === runId)?.status).toBe('completed');
    expect((await host.workspace(workspaceId)).container?.id).toBe(containerId);
  });
});
