import { describe, expect, it } from 'vitest';
import type { Slot } from '../../src/containers/slots.js';
import type { ContainerRecord } from '../../src/state/state-store.js';
import { FilePush } from '../../src/workspace/file-push.js';

function record(state: ContainerRecord['state'], local = true): ContainerRecord {
  return {
    id: 'c1',
    slotId: local ? 'slot-here' : 'slot-elsewhere',
    hostId: 'h',
    image: 'img',
    state,
    workspaceId: 'ws_1',
    tenant: 't',
    createdAt: 0,
    stateChangedAt: 0,
    lastRunEndedAt: null,
    runId: null,
  };
}

/** A FilePush over counting fakes of the assignment, the sync and the remote host. */
function push(current: ContainerRecord | null) {
  const calls = { assigned: 0, syncIn: [] as string[], remote: 0 };
  const filePush = new FilePush({
    containers: {
      assigned: () => {
        calls.assigned += 1;
        return Promise.resolve(current);
      },
      isLocal: (r) => r.slotId === 'slot-here',
    },
    sync: {
      syncIn: (_tenant, workspaceId, slot) => {
        calls.syncIn.push(`${workspaceId}@${slot.root}`);
        return Promise.resolve();
      },
    },
    slots: { slot: (id) => ({ root: `/slots/${id}` }) as Slot },
    remote: {
      filesChanged: () => {
        calls.remote += 1;
        return Promise.resolve();
      },
    },
  });
  return { filePush, calls };
}

describe('bringing a container up to date after a file write', () => {
  it('reads the workspace assignment once per write and syncs its idle container here', async () => {
    const { filePush, calls } = push(record('idle'));
    await filePush.stored('t', 'ws_1');
    expect(calls).toEqual({ assigned: 1, syncIn: ['ws_1@/slots/slot-here'], remote: 0 });
  });

  it('tells the host holding the container once, without syncing here', async () => {
    const { filePush, calls } = push(record('idle', false));
    await filePush.stored('t', 'ws_1');
    expect(calls).toEqual({ assigned: 1, syncIn: [], remote: 1 });
  });

  it('leaves a container in a run alone, and does nothing without a container', async () => {
    const running = push(record('running'));
    await running.filePush.stored('t', 'ws_1');
    expect(running.calls).toEqual({ assigned: 1, syncIn: [], remote: 0 });
    const none = push(null);
    await none.filePush.stored('t', 'ws_1');
    expect(none.calls).toEqual({ assigned: 1, syncIn: [], remote: 0 });
  });

  it('a push asked for by another host reads the assignment once and syncs here', async () => {
    const { filePush, calls } = push(record('assigned'));
    await filePush.pushHere('t', 'ws_1');
    expect(calls).toEqual({ assigned: 1, syncIn: ['ws_1@/slots/slot-here'], remote: 0 });
  });
});
