import { WorkcellError } from '@workcell/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { workspaceLockName } from '../../src/state/leases.js';
import { ManualClock } from '../../src/time/clock.js';
import { harness, parse, summary, type Harness } from './harness.js';

let h: Harness;
afterEach(() => h?.dispose());

/** The run's terminal event and the state the rest of the host is in at that moment. */
async function expectCleanEnd(runId: string): Promise<void> {
  expect(await h.state.getLeaseHolder(workspaceLockName(h.workspaceId))).toBeNull();
  const c = await h.catalog.getConversation(h.principal.tenant, h.conversationId);
  expect(c.runs.find((r) => r.id === runId)?.status).not.toBe('running');
  expect(h.service.activeRuns).toBe(0);
}

describe('ExecuteService: a run from message to terminal event', () => {
  it('numbers events from 1 without gaps, records them durably and returns the container idle', async () => {
    h = await harness();
    const { runId, events } = await h.runToEnd();
    expect(events.map((e) => e.event)).toEqual([
      'run.started',
      'user.message',
      'message',
      'message',
      'run.completed',
    ]);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(parse(events[0])).toEqual({
      runId,
      conversationId: h.conversationId,
      workspaceId: h.workspaceId,
      agent: {},
    });
    expect(parse(events[1])).toEqual({ content: 'hello' });
    expect(parse(events[4])).toMatchObject({ runId, subtype: 'success', interrupted: false });

    const c = await h.catalog.getConversation(h.principal.tenant, h.conversationId);
    expect(await h.catalog.readRunEvents(c, runId)).toEqual(events);
    expect(c.sessionId).toBe('sess-1');
    expect(c.runs[0]).toMatchObject({
      id: runId,
      status: 'completed',
      eventCount: 5,
      interrupted: false,
    });
    expect(h.orchestrator.calls).toEqual(['acquire', 'beginRun', 'endRun']);
    expect(h.sync.calls).toEqual(['in', 'out']);
    expect(h.observer.acquired).toEqual(['assigned']);
    expect(h.observer.ended).toEqual(['completed']);
    await expectCleanEnd(runId);
  });

  it('publishes the terminal event only once the lease is released and the run recorded', async () => {
    h = await harness();
    const { runId } = await h.service.start(h.principal, h.conversationId, 'hello');
    let seenAtTerminal: { lease: string | null; status: string | undefined } | null = null;
    for await (const batch of h.events.follow(runId, 0, new AbortController().signal, {
      isFinished: async () => false,
      readPersisted: async () => [],
    })) {
      if (batch.some((e) => e.event === 'run.completed')) {
        const c = await h.catalog.getConversation(h.principal.tenant, h.conversationId);
        seenAtTerminal = {
          lease: await h.state.getLeaseHolder(workspaceLockName(h.workspaceId)),
          status: c.runs[0]?.status,
        };
      }
    }
    expect(seenAtTerminal).toEqual({ lease: null, status: 'completed' });
    // A client that saw the terminal event can send the next message at once.
    const next = await h.service.start(h.principal, h.conversationId, 'again');
    expect(next.runId).not.toBe(runId);
    await h.service.drain();
  });

  it('answers 409 workspace_busy to a second message while a run is in progress', async () => {
    h = await harness();
    h.orchestrator.acquireDelayMs = 100;
    await h.service.start(h.principal, h.conversationId, 'one');
    await expect(h.service.start(h.principal, h.conversationId, 'two')).rejects.toMatchObject({
      code: 'workspace_busy',
    });
    expect(await h.service.isBusy(h.workspaceId)).toBe(true);
    await h.service.drain();
    expect(await h.service.isBusy(h.workspaceId)).toBe(false);
  });

  it('refuses a prompt over the size limit with payload_too_large and takes no lease', async () => {
    h = await harness({ maxPromptBytes: 10 });
    await expect(
      h.service.start(h.principal, h.conversationId, 'x'.repeat(11)),
    ).rejects.toMatchObject({ code: 'payload_too_large' });
    expect(await h.state.getLeaseHolder(workspaceLockName(h.workspaceId))).toBeNull();
  });

  it("answers not_found for another tenant's conversation", async () => {
    h = await harness();
    await expect(
      h.service.start({ tenant: 'tenant-b', admin: false }, h.conversationId, 'x'),
    ).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('ExecuteService: a run whose host stopped', () => {
  it('is closed with run.failed when the next message takes the workspace, keeping what its buffer had', async () => {
    h = await harness();
    // A run recorded as running, with two buffered events, whose host is gone (no lease, not live).
    const lost = 'run_lost0000000000000';
    const c = await h.catalog.getConversation(h.principal.tenant, h.conversationId);
    await h.catalog.updateConversation(c, (rec) =>
      rec.runs.push({
        id: lost,
        conversationId: c.id,
        status: 'running',
        startedAt: new Date().toISOString(),
        endedAt: null,
        interrupted: false,
        error: null,
        summary: null,
        eventCount: 0,
      }),
    );
    await h.state.appendRunEvent(lost, { seq: 1, event: 'run.started', data: '{}' });
    await h.state.appendRunEvent(lost, { seq: 2, event: 'message', data: '{"type":"system"}' });

    const { events } = await h.runToEnd();
    expect(events.at(-1)?.event).toBe('run.completed');
    const after = await h.catalog.getConversation(h.principal.tenant, h.conversationId);
    expect(after.runs.map((r) => r.status)).toEqual(['failed', 'completed']);
    expect(after.runs[0]).toMatchObject({ id: lost, error: { code: 'host_lost' }, eventCount: 3 });
    expect((await h.catalog.readRunEvents(after, lost)).map((e) => e.event)).toEqual([
      'run.started',
      'message',
      'run.failed',
    ]);
    // A client following it now reaches its end.
    expect((await h.collect(lost)).map((e) => e.seq)).toEqual([1, 2, 3]);
  });
});

describe('ExecuteService: every failing step maps to one code and leaves nothing half-done', () => {
  it('acquire fails -> container_start_failed, no container to return', async () => {
    h = await harness();
    h.orchestrator.acquireError = new WorkcellError('dependency_unavailable', 'docker is down');
    const { runId, events } = await h.runToEnd();
    expect(events.at(-1)?.event).toBe('run.failed');
    expect(parse(events.at(-1))).toMatchObject({ code: 'container_start_failed' });
    expect(String(parse(events.at(-1)).message)).toContain('docker is down');
    expect(h.orchestrator.calls).toEqual(['acquire']);
    expect(h.sync.calls).toEqual([]);
    expect(h.observer.ended).toEqual(['container_start_failed']);
    await expectCleanEnd(runId);
  });

  it('sync in fails -> sync_failed, the suspect container is removed', async () => {
    h = await harness();
    h.sync.inError = new Error('disk full');
    const { runId, events } = await h.runToEnd();
    expect(parse(events.at(-1))).toMatchObject({ code: 'sync_failed' });
    expect(h.orchestrator.calls).toEqual(['acquire', 'remove']);
    await expectCleanEnd(runId);
  });

  it('the container cannot be marked running -> container_failed, left as it is', async () => {
    h = await harness();
    h.orchestrator.beginResult = false;
    const { runId, events } = await h.runToEnd();
    expect(parse(events.at(-1))).toMatchObject({ code: 'container_failed' });
    expect(h.orchestrator.calls).toEqual(['acquire', 'beginRun']);
    expect(h.sync.calls).toEqual(['in']);
    await expectCleanEnd(runId);
  });

  it('the agent socket fails -> agent_unavailable, files synced out, container removed', async () => {
    h = await harness();
    h.orchestrator.agent.script = async function* () {
      yield* [];
      throw new WorkcellError('agent_unavailable', 'agent socket: ECONNREFUSED');
    };
    const { runId, events } = await h.runToEnd();
    expect(parse(events.at(-1))).toMatchObject({ code: 'agent_unavailable' });
    expect(h.sync.calls).toEqual(['in', 'out']);
    expect(h.orchestrator.calls).toEqual(['acquire', 'beginRun', 'remove']);
    await expectCleanEnd(runId);
  });

  it('the agent stream breaks before a terminal event -> container_failed, files synced out, container removed', async () => {
    h = await harness();
    h.orchestrator.agent.script = async function* ({ request }) {
      yield { type: 'run.started', runId: request.runId };
      yield { type: 'sdk', message: { type: 'assistant' } };
    };
    const { runId, events } = await h.runToEnd();
    expect(events.map((e) => e.event)).toEqual([
      'run.started',
      'user.message',
      'message',
      'run.failed',
    ]);
    expect(parse(events.at(-1))).toMatchObject({ code: 'container_failed' });
    expect(h.sync.calls).toEqual(['in', 'out']);
    expect(h.orchestrator.calls).toEqual(['acquire', 'beginRun', 'remove']);
    await expectCleanEnd(runId);
  });

  it('the agent reports a failure -> its own code (sdk_error), the container is kept', async () => {
    h = await harness();
    h.orchestrator.agent.script = async function* ({ request }) {
      yield { type: 'run.started', runId: request.runId };
      yield { type: 'run.failed', error: { code: 'sdk_error', message: 'the model said no' } };
    };
    const { runId, events } = await h.runToEnd();
    expect(parse(events.at(-1))).toEqual({ code: 'sdk_error', message: 'the model said no' });
    expect(h.orchestrator.calls).toEqual(['acquire', 'beginRun', 'endRun']);
    await expectCleanEnd(runId);
  });

  it('sync out fails after a good run -> sync_failed, the container keeps the only copy of the files', async () => {
    h = await harness();
    h.sync.outError = new Error('object store down');
    const { runId, events } = await h.runToEnd();
    expect(parse(events.at(-1))).toMatchObject({ code: 'sync_failed' });
    expect(String(parse(events.at(-1)).message)).toContain('object store down');
    expect(h.orchestrator.calls).toEqual(['acquire', 'beginRun', 'endRun']);
    await expectCleanEnd(runId);
  });

  it('the state store buffer fails mid-run -> the run still completes and its log is whole', async () => {
    h = await harness();
    let appends = 0;
    const original = h.state.appendRunEvent.bind(h.state);
    h.state.appendRunEvent = async (runId, event) => {
      appends += 1;
      if (appends >= 2) throw new WorkcellError('dependency_unavailable', 'redis went away');
      return original(runId, event);
    };
    const { runId, events } = await h.runToEnd();
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(events.at(-1)?.event).toBe('run.completed');
    const c = await h.catalog.getConversation(h.principal.tenant, h.conversationId);
    expect(await h.catalog.readRunEvents(c, runId)).toEqual(events);
    // A follower on another host (not live here) ends from the durable log.
    expect(await h.collect(runId)).toEqual(events);
  });
});

describe('ExecuteService: interrupt, timeout and shutdown', () => {
  /** An agent turn that waits until interrupted, then ends like the SDK does. */
  const waitsForInterrupt = async function* ({
    request,
    interrupted,
  }: {
    request: { runId: string };
    interrupted: Promise<void>;
  }) {
    yield { type: 'run.started' as const, runId: request.runId };
    yield {
      type: 'sdk' as const,
      message: { type: 'system', subtype: 'init', session_id: 'sess-1' },
    };
    await interrupted;
    yield {
      type: 'run.completed' as const,
      summary: summary({ subtype: 'error_during_execution', interrupted: true, result: null }),
    };
  };

  it('interrupt reaches the agent and the run completes marked interrupted', async () => {
    h = await harness();
    h.orchestrator.agent.script = waitsForInterrupt;
    const { runId } = await h.service.start(h.principal, h.conversationId, 'long');
    const events = h.collect(runId);
    await waitUntil(() => h.events.read(runId, 0).then((e) => e.length >= 2));
    await h.service.interrupt(h.principal, h.conversationId, runId);
    const all = await events;
    expect(h.orchestrator.agent.interrupts).toEqual([runId]);
    expect(all.at(-1)?.event).toBe('run.completed');
    expect(parse(all.at(-1))).toMatchObject({ interrupted: true });
    expect(h.sync.calls).toEqual(['in', 'out']);
    await h.service.drain();
    expect(h.observer.ended).toEqual(['interrupted']);
    await expectCleanEnd(runId);
  });

  it('an interrupt sent before the agent accepted the run is delivered once it does', async () => {
    h = await harness();
    h.orchestrator.acquireDelayMs = 50;
    h.orchestrator.agent.script = waitsForInterrupt;
    const { runId } = await h.service.start(h.principal, h.conversationId, 'long');
    await h.service.interrupt(h.principal, h.conversationId, runId);
    const all = await h.collect(runId);
    expect(parse(all.at(-1))).toMatchObject({ interrupted: true });
    // Stopped before the container was marked running: the agent was never asked to run.
    expect(h.orchestrator.agent.interrupts).toEqual([]);
  });

  it('an agent that ignores the interrupt has its connection cut after the grace period', async () => {
    h = await harness({ interruptGraceMs: 100 });
    h.orchestrator.agent.script = async function* ({ request }) {
      yield { type: 'run.started', runId: request.runId };
      await new Promise(() => undefined);
    };
    const { runId } = await h.service.start(h.principal, h.conversationId, 'stubborn');
    await waitUntil(() =>
      h.events
        .read(runId, 0)
        .then((e) => e.length >= 1)
        .then(() => h.orchestrator.calls.includes('beginRun')),
    );
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    await h.service.interrupt(h.principal, h.conversationId, runId);
    const all = await h.collect(runId);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(parse(all.at(-1))).toMatchObject({ interrupted: true, subtype: 'interrupted' });
    await h.service.drain();
    expect(h.orchestrator.calls).toEqual(['acquire', 'beginRun', 'endRun']);
  });

  it('a cut connection whose agent stays busy retires the container', async () => {
    h = await harness({ interruptGraceMs: 50, agentSettleMs: 200 });
    h.orchestrator.agent.busyAfterAbort = true;
    h.orchestrator.agent.script = async function* ({ request }) {
      yield { type: 'run.started', runId: request.runId };
      await new Promise(() => undefined);
    };
    const { runId } = await h.service.start(h.principal, h.conversationId, 'stubborn');
    await waitUntil(async () => h.orchestrator.calls.includes('beginRun'));
    await h.service.interrupt(h.principal, h.conversationId, runId);
    await h.collect(runId);
    await h.service.drain();
    expect(h.orchestrator.calls).toEqual(['acquire', 'beginRun', 'remove']);
  });

  it('interrupting a run that has ended answers conflict', async () => {
    h = await harness();
    const { runId } = await h.runToEnd();
    await expect(h.service.interrupt(h.principal, h.conversationId, runId)).rejects.toMatchObject({
      code: 'conflict',
    });
    await expect(
      h.service.interrupt({ tenant: 'tenant-b', admin: false }, h.conversationId, runId),
    ).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('the run timeout stops the run with run_timeout and syncs its files out', async () => {
    const clock = new ManualClock();
    h = await harness({ runTimeoutMs: 3_600_000 }, { clock });
    h.orchestrator.agent.script = waitsForInterrupt;
    const { runId } = await h.service.start(h.principal, h.conversationId, 'hello');
    await waitUntil(async () => h.orchestrator.calls.includes('beginRun'));
    clock.advance(3_600_000);
    const events = await h.collect(runId);
    await h.service.drain();
    expect(events.at(-1)?.event).toBe('run.failed');
    expect(parse(events.at(-1))).toMatchObject({ code: 'run_timeout' });
    expect(h.sync.calls).toEqual(['in', 'out']);
    expect(h.observer.ended).toEqual(['run_timeout']);
  });

  it('shutdown refuses new runs and lets a run in progress finish within the deadline', async () => {
    h = await harness();
    h.orchestrator.acquireDelayMs = 100;
    const { runId } = await h.service.start(h.principal, h.conversationId, 'one');
    const stopped = h.service.shutdown(5_000);
    await expect(h.service.start(h.principal, h.conversationId, 'two')).rejects.toMatchObject({
      code: 'shutting_down',
    });
    expect(await stopped).toBe(0);
    const c = await h.catalog.getConversation(h.principal.tenant, h.conversationId);
    expect(c.runs.find((r) => r.id === runId)?.status).toBe('completed');
  });

  it('shutdown stops a run still going at the deadline: shutting_down, files synced out', async () => {
    h = await harness();
    h.orchestrator.agent.script = waitsForInterrupt;
    const { runId } = await h.service.start(h.principal, h.conversationId, 'long');
    await waitUntil(async () => h.orchestrator.calls.includes('beginRun'));
    expect(await h.service.shutdown(50)).toBe(1);
    const c = await h.catalog.getConversation(h.principal.tenant, h.conversationId);
    expect(c.runs.find((r) => r.id === runId)).toMatchObject({
      status: 'failed',
      error: { code: 'shutting_down' },
    });
    expect(h.sync.calls).toEqual(['in', 'out']);
  });

  it('shutdown with hand-over stops a run the agent has not accepted yet at the deadline: shutting_down, files synced out', async () => {
    h = await harness({ handOverRuns: true });
    // The agent never accepts the run (no `run.started`), so there is nothing to hand over.
    h.orchestrator.agent.script = async function* () {
      await new Promise(() => undefined);
      yield* [];
    };
    const { runId } = await h.service.start(h.principal, h.conversationId, 'long');
    await waitUntil(async () => h.orchestrator.calls.includes('beginRun'));
    expect(await h.service.shutdown(50)).toBe(1);
    const c = await h.catalog.getConversation(h.principal.tenant, h.conversationId);
    expect(c.runs.find((r) => r.id === runId)).toMatchObject({
      status: 'failed',
      error: { code: 'shutting_down' },
    });
    expect(h.sync.calls).toEqual(['in', 'out']);
  });

  it('shutdown hands over a run the agent runs: no end, no sync out, recorded in progress, the lock kept for the run', async () => {
    h = await harness({ handOverRuns: true });
    h.orchestrator.agent.script = waitsForInterrupt;
    const { runId } = await h.service.start(h.principal, h.conversationId, 'long');
    await waitUntil(async () => (await h.events.read(runId, 0)).length >= 3);
    expect(await h.service.shutdown(50)).toBe(0);
    const c = await h.catalog.getConversation(h.principal.tenant, h.conversationId);
    expect(c.runs.find((r) => r.id === runId)?.status).toBe('running');
    expect(h.sync.calls).toEqual(['in']);
    expect(h.orchestrator.agent.interrupts).toEqual([]);
    expect((await h.state.listRunAttachments()).map((a) => a.runId)).toEqual([runId]);
    expect(await h.state.getLeaseHolder(workspaceLockName(c.workspaceId))).toBe(runId);
    expect((await h.state.readRunEvents(runId, 0)).map((e) => e.event)).toEqual([
      'run.started',
      'user.message',
      'message',
    ]);
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('ExecuteService: a run whose host stopped before it had a container', () => {
  /** A run as a host leaves it when it stops right after accepting it. */
  async function acceptedElsewhere(input?: {
    prompt: string;
    options?: { maxTurns: number };
  }): Promise<string> {
    const runId = 'run_early000000000000';
    const c = await h.catalog.getConversation(h.principal.tenant, h.conversationId);
    await h.catalog.updateConversation(c, (rec) =>
      rec.runs.push({
        id: runId,
        conversationId: c.id,
        status: 'running',
        startedAt: new Date().toISOString(),
        endedAt: null,
        interrupted: false,
        error: null,
        summary: null,
        eventCount: 0,
      }),
    );
    await h.state.appendRunEvent(runId, { seq: 1, event: 'run.started', data: '{}' });
    await h.state.appendRunEvent(runId, {
      seq: 2,
      event: 'user.message',
      data: JSON.stringify({ content: input?.prompt ?? 'hello' }),
    });
    await h.state.putRunAttachment({
      runId,
      tenant: h.principal.tenant,
      workspaceId: h.workspaceId,
      conversationId: h.conversationId,
      containerId: '',
      startedAt: Date.now(),
      ...(input ? { input } : {}),
    });
    return runId;
  }

  it('is started again with its recorded input, its log going on after the events it has', async () => {
    h = await harness();
    const requests: unknown[] = [];
    const script = h.orchestrator.agent.script;
    h.orchestrator.agent.script = (ctx) => {
      requests.push(ctx.request);
      return script(ctx);
    };
    const runId = await acceptedElsewhere({ prompt: 'again', options: { maxTurns: 3 } });
    expect(await h.service.adoptRuns()).toEqual([runId]);
    const events = await h.collect(runId);
    await h.service.drain();
    expect(events.map((e) => [e.seq, e.event])).toEqual([
      [1, 'run.started'],
      [2, 'user.message'],
      [3, 'message'],
      [4, 'message'],
      [5, 'run.completed'],
    ]);
    expect(requests).toEqual([
      expect.objectContaining({ runId, prompt: 'again', options: { maxTurns: 3 } }),
    ]);
    expect((await h.state.listRunAttachments()).map((a) => a.runId)).toEqual([]);
    await expectCleanEnd(runId);
    const c = await h.catalog.getConversation(h.principal.tenant, h.conversationId);
    expect(c.runs[0]).toMatchObject({ id: runId, status: 'completed', eventCount: 5 });
  });

  it('ends host_lost when its input was not recorded', async () => {
    h = await harness();
    const runId = await acceptedElsewhere();
    expect(await h.service.adoptRuns()).toEqual([]);
    expect(h.orchestrator.calls).toEqual([]);
    const events = await h.collect(runId);
    expect(events.map((e) => e.event)).toEqual(['run.started', 'user.message', 'run.failed']);
    expect(parse(events[2])).toMatchObject({ code: 'host_lost' });
    await expectCleanEnd(runId);
  });
});

describe('ExecuteService: accepting a run', () => {
  it('records it with its input and no container until it has one', async () => {
    h = await harness();
    h.orchestrator.acquireDelayMs = 100;
    const { runId } = await h.service.start(h.principal, h.conversationId, 'hello');
    expect(await h.state.listRunAttachments()).toEqual([
      expect.objectContaining({ runId, containerId: '', input: { prompt: 'hello' } }),
    ]);
    expect((await h.state.readRunEvents(runId, 0)).map((e) => e.event)).toEqual([
      'run.started',
      'user.message',
    ]);
    await h.service.drain();
  });
});
