import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEASES } from '../../packages/host/src/state/leases.js';
import { resultOf } from '../agent/support.js';
import { dataOf, startTestHost, type TestHost } from '../support/host.js';

const bash = (command: string): string =>
  `MOCK:${JSON.stringify({ tool: 'Bash', input: { command } })}`;

/** A prompt that leaves `marker` in the history and answers `ok`. */
const said = (marker: string, directive = 'MOCK:{"text": "ok"}'): string =>
  `note ${marker}\n${directive}`;

/** What of the history the model is shown: every line naming a marker of this test. */
const SEEN = (tag: string): string => `MOCK:${JSON.stringify({ echo: 'context', grep: tag })}`;

interface RunView {
  id: string;
  status: string;
  rewound: boolean;
}

describe('fork and rewind through the real host, agent and model', () => {
  let host: TestHost;
  const tokenB = `tok_b_${randomBytes(16).toString('hex')}`;

  beforeAll(async () => {
    host = await startTestHost({
      tokens: { [tokenB]: 'tenant-b' },
      secretsKey: randomBytes(32).toString('base64'),
      egressAllow: 'api.example.org,*.example.net',
    });
  });
  afterAll(async () => {
    await host?.close();
  });

  const post = (path: string, body: unknown, token?: string): Promise<Response> =>
    host.api(path, {
      method: 'POST',
      body: JSON.stringify(body),
      ...(token !== undefined ? { token } : {}),
    });

  const runIdOf = (events: Awaited<ReturnType<TestHost['send']>>): string => {
    expect(events.at(-1)?.event).toBe('run.completed');
    const id = dataOf<{ runId: string }>(events, 'run.started')[0]?.runId;
    expect(id).toMatch(/^run_/);
    return id ?? '';
  };

  const fileText = async (wid: string, path: string): Promise<string | null> => {
    const res = await host.api(`/v1/workspaces/${wid}/files/${path}`);
    return res.status === 404 ? null : res.text();
  };

  it("forks a workspace: the snapshot's files, its settings and secrets, and every conversation continuing", async () => {
    const tag = `WF${randomBytes(3).toString('hex')}`;
    const { workspaceId, conversationId } = await host.conversation();
    await host.wc.agent.set(workspaceId, { appendSystemPrompt: `Rule ${tag}-SYSTEM.` });
    await host.wc.egress.set(workspaceId, ['api.example.org']);
    const secret = await host.wc.secrets.workspace.put(workspaceId, 'fork_token', {
      value: `value-${tag}`,
      hosts: ['api.example.org'],
    });
    const second = await host.wc.conversations.create(workspaceId, { title: 'second' });
    runIdOf(await host.send(conversationId, said(`${tag}-one`, bash('echo forked > kept.txt'))));
    runIdOf(await host.send(second.id, said(`${tag}-other`)));

    const usageBefore = (await host.wc.usage.tenant()).totals;
    const fork = await host.wc.workspaces.fork(workspaceId, { name: 'the fork' });
    // The copied runs are the source's: the tenant's usage does not count them twice.
    expect((await host.wc.usage.tenant()).totals).toEqual(usageBefore);
    expect((await host.wc.usage.workspace(fork.workspace.id)).totals.runs).toBe(0);
    expect(fork.workspace.name).toBe('the fork');
    expect(fork.workspace.id).not.toBe(workspaceId);
    expect(fork.conversations.map((c) => c.from).sort()).toEqual(
      [conversationId, second.id].sort(),
    );
    const to = (from: string): string => fork.conversations.find((c) => c.from === from)?.to ?? '';

    // Files as of the snapshot, and the agent settings.
    expect(await fileText(fork.workspace.id, 'kept.txt')).toBe('forked\n');
    expect((await host.wc.agent.get(fork.workspace.id)).settings).toEqual({
      appendSystemPrompt: `Rule ${tag}-SYSTEM.`,
    });
    expect((await host.wc.egress.get(fork.workspace.id)).hosts).toEqual(['api.example.org']);
    // The secret is the fork's own: sealed again for it, same placeholder, same value.
    const forkSecret = await host.wc.secrets.workspace.get(fork.workspace.id, 'fork_token');
    expect(forkSecret).toMatchObject({
      scope: 'workspace',
      placeholder: secret.secret.placeholder,
    });
    await expect
      .poll(() =>
        host.workcell.secrets
          .bindings(host.tenant, fork.workspace.id)
          .filter((b) => b.name === 'fork_token')
          .map((b) => b.value()),
      )
      .toEqual([`value-${tag}`]);
    // The fork's conversation shows the source's runs and continues its history.
    const copied = (await (await host.api(`/v1/conversations/${to(conversationId)}`)).json()) as {
      workspaceId: string;
      runs: RunView[];
    };
    expect(copied.workspaceId).toBe(fork.workspace.id);
    expect(copied.runs).toHaveLength(1);
    const seen = resultOf(await host.send(to(conversationId), SEEN(tag)));
    expect(seen).toContain(`${tag}-one`);
    expect(seen).toContain(`${tag}-SYSTEM`);
    expect(seen).not.toContain(`${tag}-other`);
    const seenOther = resultOf(await host.send(to(second.id), SEEN(tag)));
    expect(seenOther).toContain(`${tag}-other`);
    expect(seenOther).not.toContain(`${tag}-one`);

    // A change in the fork leaves the source as it was, and the other way round.
    runIdOf(await host.send(to(conversationId), bash('echo changed > kept.txt')));
    expect(await fileText(workspaceId, 'kept.txt')).toBe('forked\n');
    const sourceSeen = resultOf(await host.send(conversationId, SEEN(tag)));
    expect(sourceSeen).toContain(`${tag}-one`);
    expect(sourceSeen).not.toContain('changed');
  });

  it('forks the workspace as of an older snapshot, and while a run holds it', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    runIdOf(await host.send(conversationId, bash('echo first > f.txt')));
    const older = (await host.wc.snapshots.list(workspaceId))[0];
    runIdOf(await host.send(conversationId, bash('echo second > f.txt')));
    const lease = LEASES.workspace(workspaceId);
    expect(await host.workcell.state.acquireLease(lease, 'a-run', 60_000)).toBe(true);
    try {
      const res = await post(`/v1/workspaces/${workspaceId}/fork`, { snapshotId: older?.id });
      expect(res.status).toBe(201);
      const fork = (await res.json()) as { workspace: { id: string } };
      expect(await fileText(fork.workspace.id, 'f.txt')).toBe('first\n');
      const latest = await post(`/v1/workspaces/${workspaceId}/fork`, {});
      expect(latest.status).toBe(201);
      const forkLatest = (await latest.json()) as { workspace: { id: string } };
      expect(await fileText(forkLatest.workspace.id, 'f.txt')).toBe('second\n');
    } finally {
      await host.workcell.state.releaseLease(lease, 'a-run');
    }
  });

  it('forks a conversation at a run: the new conversation sees the turns up to it and no later', async () => {
    const tag = `CF${randomBytes(3).toString('hex')}`;
    const { workspaceId, conversationId } = await host.conversation();
    const r1 = runIdOf(await host.send(conversationId, said(`${tag}-one`)));
    const r2 = runIdOf(await host.send(conversationId, said(`${tag}-two`)));
    runIdOf(await host.send(conversationId, said(`${tag}-three`)));

    const usageBefore = (await host.wc.usage.workspace(workspaceId)).totals;
    const res = await post(`/v1/conversations/${conversationId}/fork`, { atRunId: r2 });
    expect(res.status).toBe(201);
    expect((await host.wc.usage.workspace(workspaceId)).totals).toEqual(usageBefore);
    const fork = (await res.json()) as { id: string; workspaceId: string };
    expect(fork.workspaceId).toBe(workspaceId);
    const runs = (await (await host.api(`/v1/conversations/${fork.id}/runs`)).json()) as {
      runs: RunView[];
    };
    expect(runs.runs.map((r) => r.id)).toEqual([r1, r2]);
    const seen = resultOf(await host.send(fork.id, SEEN(tag)));
    expect(seen).toContain(`${tag}-one`);
    expect(seen).toContain(`${tag}-two`);
    expect(seen).not.toContain(`${tag}-three`);

    // A fork of the fork at its first run: only that turn.
    const second = await host.wc.conversations.fork(fork.id, { atRunId: r1 });
    const seenAgain = resultOf(await host.send(second.id, SEEN(tag)));
    expect(seenAgain).toContain(`${tag}-one`);
    expect(seenAgain).not.toContain(`${tag}-two`);

    // The source is untouched: it still sees all three.
    const source = resultOf(await host.send(conversationId, SEEN(tag)));
    expect(source).toContain(`${tag}-three`);
  });

  it('rewinds a conversation: later runs stay, marked rewound, and the model no longer sees them', async () => {
    const tag = `RW${randomBytes(3).toString('hex')}`;
    const { workspaceId, conversationId } = await host.conversation();
    const r1 = runIdOf(
      await host.send(conversationId, said(`${tag}-one`, bash('echo one > state.txt'))),
    );
    const r2 = runIdOf(
      await host.send(conversationId, said(`${tag}-two`, bash('echo two > state.txt'))),
    );

    // Without files: the conversation goes back, the files stay.
    const res = await post(`/v1/conversations/${conversationId}/rewind`, { toRunId: r1 });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      conversation: { id: conversationId, workspaceId },
      toRunId: r1,
      rewoundRunIds: [r2],
      snapshotId: null,
    });
    expect(await fileText(workspaceId, 'state.txt')).toBe('two\n');
    const runs = (await (await host.api(`/v1/conversations/${conversationId}/runs`)).json()) as {
      runs: RunView[];
    };
    expect(runs.runs.map((r) => [r.id, r.rewound])).toEqual([
      [r1, false],
      [r2, true],
    ]);
    const r3events = await host.send(conversationId, said(`${tag}-three`, SEEN(tag)));
    const r3 = runIdOf(r3events);
    const seen = resultOf(r3events);
    expect(seen).toContain(`${tag}-one`);
    expect(seen).not.toContain(`${tag}-two`);

    // A rewound run is no longer a point to go back to.
    const gone = await post(`/v1/conversations/${conversationId}/rewind`, { toRunId: r2 });
    expect(gone.status).toBe(409);

    // With files: back to the snapshot as of run 1, in the store and in the container.
    const body = await host.wc.conversations.rewind(conversationId, { toRunId: r1, files: true });
    expect(body.rewoundRunIds).toEqual([r3]);
    expect(body.snapshotId).toMatch(/^snap_/);
    expect(await fileText(workspaceId, 'state.txt')).toBe('one\n');
    const check = await host.send(
      conversationId,
      said(`${tag}-four`, bash('cp state.txt seen.txt')),
    );
    runIdOf(check);
    expect(await fileText(workspaceId, 'seen.txt')).toBe('one\n');
    const last = resultOf(await host.send(conversationId, SEEN(tag)));
    expect(last).toContain(`${tag}-one`);
    expect(last).toContain(`${tag}-four`);
    expect(last).not.toContain(`${tag}-two`);
    expect(last).not.toContain(`${tag}-three`);
  });

  it('refuses bad input with stable codes and leaves nothing behind', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    const r1 = runIdOf(await host.send(conversationId, bash('echo x > x.txt')));
    const other = await host.wc.conversations.create(workspaceId);
    const otherRun = runIdOf(await host.send(other.id, 'MOCK:{"text": "ok"}'));
    const unknownRun = `run_${'a'.repeat(16)}`;
    const unknownSnapshot = `snap_${'1'.repeat(13)}${'a'.repeat(12)}`;
    const unknownWs = `ws_${'b'.repeat(16)}`;
    const unknownConv = `conv_${'c'.repeat(16)}`;
    const before = await host.wc.workspaces.list();

    const cases: [string, unknown, string | undefined, number, string][] = [
      [
        `/v1/workspaces/${workspaceId}/fork`,
        { snapshotId: unknownSnapshot },
        undefined,
        404,
        'not_found',
      ],
      [`/v1/workspaces/${workspaceId}/fork`, { snapshotId: 'nope' }, undefined, 404, 'not_found'],
      [`/v1/workspaces/${workspaceId}/fork`, {}, tokenB, 404, 'not_found'],
      [`/v1/workspaces/${unknownWs}/fork`, {}, undefined, 404, 'not_found'],
      [`/v1/workspaces/${workspaceId}/fork`, { name: 7 }, undefined, 400, 'validation_failed'],
      [`/v1/workspaces/${workspaceId}/fork`, { extra: 1 }, undefined, 400, 'validation_failed'],
      [
        `/v1/conversations/${conversationId}/fork`,
        { atRunId: unknownRun },
        undefined,
        404,
        'not_found',
      ],
      [
        `/v1/conversations/${conversationId}/fork`,
        { atRunId: otherRun },
        undefined,
        400,
        'bad_request',
      ],
      [`/v1/conversations/${conversationId}/fork`, { atRunId: r1 }, tokenB, 404, 'not_found'],
      [`/v1/conversations/${unknownConv}/fork`, {}, undefined, 404, 'not_found'],
      [
        `/v1/conversations/${conversationId}/fork`,
        { atRunId: 5 },
        undefined,
        400,
        'validation_failed',
      ],
      [
        `/v1/conversations/${conversationId}/rewind`,
        { toRunId: unknownRun },
        undefined,
        404,
        'not_found',
      ],
      [
        `/v1/conversations/${conversationId}/rewind`,
        { toRunId: otherRun },
        undefined,
        400,
        'bad_request',
      ],
      [`/v1/conversations/${conversationId}/rewind`, { toRunId: r1 }, tokenB, 404, 'not_found'],
      [`/v1/conversations/${conversationId}/rewind`, {}, undefined, 400, 'validation_failed'],
      [
        `/v1/conversations/${conversationId}/rewind`,
        { toRunId: r1, files: 'yes' },
        undefined,
        400,
        'validation_failed',
      ],
    ];
    for (const [path, body, token, status, code] of cases) {
      const res = await post(path, body, token);
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(status);
      expect(await res.json()).toMatchObject({ error: { code } });
    }
    expect((await host.wc.workspaces.list()).map((w) => w.id)).toEqual(before.map((w) => w.id));
    expect((await host.wc.conversations.list(workspaceId)).map((c) => c.id).sort()).toEqual(
      [conversationId, other.id].sort(),
    );

    // While a run holds the workspace: a rewind with files, and a conversation fork, answer 409.
    const lease = LEASES.workspace(workspaceId);
    expect(await host.workcell.state.acquireLease(lease, 'a-run', 60_000)).toBe(true);
    try {
      for (const [path, body] of [
        [`/v1/conversations/${conversationId}/rewind`, { toRunId: r1, files: true }],
        [`/v1/conversations/${conversationId}/fork`, { atRunId: r1 }],
      ] as const) {
        const busy = await post(path, body);
        expect(busy.status, path).toBe(409);
        expect(await busy.json()).toMatchObject({ error: { code: 'workspace_busy' } });
      }
    } finally {
      await host.workcell.state.releaseLease(lease, 'a-run');
    }
  });

  it('a fork racing the deletion of its workspace leaves either a whole fork or none', async () => {
    const { workspaceId, conversationId } = await host.conversation();
    runIdOf(await host.send(conversationId, bash('echo racing > r.txt')));
    const before = new Set((await host.wc.workspaces.list()).map((w) => w.id));
    const [forked, deleted] = await Promise.all([
      post(`/v1/workspaces/${workspaceId}/fork`, {}),
      host.api(`/v1/workspaces/${workspaceId}`, { method: 'DELETE' }),
    ]);
    expect(deleted.status).toBe(204);
    const made = (await host.wc.workspaces.list()).filter((w) => !before.has(w.id));
    if (forked.status === 201) {
      const fork = (await forked.json()) as {
        workspace: { id: string };
        conversations: { to: string }[];
      };
      expect(made.map((w) => w.id)).toEqual([fork.workspace.id]);
      expect(await fileText(fork.workspace.id, 'r.txt')).toBe('racing\n');
      expect(fork.conversations).toHaveLength(1);
      const conv = await host.api(`/v1/conversations/${fork.conversations[0]?.to ?? ''}`);
      expect(conv.status).toBe(200);
    } else {
      expect(forked.status).toBe(404);
      expect(made).toEqual([]);
    }
    // Nothing is stored under a workspace the listing does not show.
    const roots = await host.workcell.objects.list(`tenants/${host.tenant}/workspaces/`);
    const listed = new Set((await host.wc.workspaces.list()).map((w) => w.id));
    for (const o of roots) {
      const wid = /workspaces\/(ws_[A-Za-z0-9]+)\//.exec(o.key)?.[1];
      expect(wid !== undefined && listed.has(wid), o.key).toBe(true);
    }
    // A conversation fork racing the deletion: it answers 201 or 404, and a 404 leaves nothing.
    const next = await host.conversation();
    runIdOf(await host.send(next.conversationId, 'MOCK:{"text": "ok"}'));
    const [convFork, gone] = await Promise.all([
      post(`/v1/conversations/${next.conversationId}/fork`, {}),
      host.api(`/v1/workspaces/${next.workspaceId}`, { method: 'DELETE' }),
    ]);
    expect([201, 404, 409]).toContain(convFork.status);
    expect([204, 409]).toContain(gone.status);
    if (gone.status === 204) {
      const left = await host.workcell.objects.list(
        `tenants/${host.tenant}/workspaces/${next.workspaceId}/`,
      );
      expect(left).toEqual([]);
      if (convFork.status === 201) {
        const c = (await convFork.json()) as { id: string };
        expect((await host.api(`/v1/conversations/${c.id}`)).status).toBe(404);
      }
    }

    // A rewind racing the deletion: the workspace lock orders them; a 404 leaves nothing.
    const third = await host.conversation();
    const r = runIdOf(await host.send(third.conversationId, bash('echo r > r.txt')));
    const [rewound, removed] = await Promise.all([
      post(`/v1/conversations/${third.conversationId}/rewind`, { toRunId: r, files: true }),
      host.api(`/v1/workspaces/${third.workspaceId}`, { method: 'DELETE' }),
    ]);
    expect([200, 404, 409]).toContain(rewound.status);
    expect([204, 409]).toContain(removed.status);
    if (removed.status === 204) {
      const left = await host.workcell.objects.list(
        `tenants/${host.tenant}/workspaces/${third.workspaceId}/`,
      );
      expect(left).toEqual([]);
    } else {
      expect(rewound.status).toBe(200);
    }
  });
});
