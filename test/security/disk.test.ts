import { statSync } from 'node:fs';
import { join } from 'node:path';
import { LABELS } from '../../packages/host/src/containers/runtime.js';
import { SlotStore } from '../../packages/host/src/containers/slots.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, startTestHost, type TestHost } from '../support/host.js';
import { RUNTIMES, bash, execIn, runCompletes, workspaceWithContainer } from './support.js';

/**
 * A hostile agent tries to fill the host's disk through its workspace. Each container's
 * `/workspace` and session directory sit on a volume of their own with a hard size: the write
 * fails with "no space" inside, the host's free space and the other workspace are untouched, and
 * the next sync out still stores what fit.
 */
const DISK_MB = 48;
const NOFILE = 2048;

/** The slot id of a container, from its label. */
async function slotOf(containerId: string): Promise<string> {
  return (
    await docker('inspect', '--format', `{{index .Config.Labels "${LABELS.slot}"}}`, containerId)
  ).trim();
}

describe.each(RUNTIMES)('disk and file limits (%s)', (runtime) => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost({
      runtime,
      workspaceDiskMb: DISK_MB,
      containerNofile: NOFILE,
    });
  });

  afterAll(async () => {
    await host?.close();
  });

  it('a write past the volume fails with no space; the host and another workspace are untouched; what fit is synced', async () => {
    const a = await workspaceWithContainer(host);
    const b = await workspaceWithContainer(host);
    // The agent fills its workspace in a run, so the run's sync out is the one that follows.
    await runCompletes(
      host,
      a.conversationId,
      bash(`dd if=/dev/zero of=/workspace/fill.bin bs=1M count=${DISK_MB * 3}; true`),
    );
    const probe = await execIn(
      a.containerId,
      'head -c 4194304 /dev/zero > /workspace/probe.bin; rm -f /workspace/probe.bin; echo "size=$(wc -c < /workspace/fill.bin)"',
    );
    expect(probe.stderr, JSON.stringify(probe)).toMatch(/No space left on device/);
    const filled = Number(/size=(\d+)/.exec(probe.stdout)?.[1] ?? 'NaN');
    // Session transcripts share the volume, so a little less than the whole of it fits.
    expect(filled, probe.stdout).toBeGreaterThan((DISK_MB - 16) * 1024 * 1024);
    expect(filled).toBeLessThanOrEqual(DISK_MB * 1024 * 1024);
    // On the host the workspace holds at most its volume: the sparse image's allocated blocks.
    const image = join(
      new SlotStore(host.dataDir).slot(await slotOf(a.containerId)).root,
      'disk.img',
    );
    expect(statSync(image).blocks * 512).toBeLessThanOrEqual((DISK_MB + 1) * 1024 * 1024);

    const other = await execIn(
      b.containerId,
      'echo fine > /workspace/other.txt && cat /workspace/other.txt',
    );
    expect(other.stdout.trim()).toBe('fine');

    // What fit was synced out when the run ended; a next run on the full volume still works.
    await runCompletes(host, a.conversationId, 'MOCK:{"text": "still here"}');
    const files = await host.wc.files.list(a.workspaceId);
    expect(
      files.find((f) => f.path === 'fill.bin')?.size,
      `${JSON.stringify(files)} ${host.logs
        .filter((l) => /sync|warn|error/i.test(l))
        .slice(-5)
        .join('\n')}`,
    ).toBe(filled);
  });

  it('a container has the configured open-file limit', async () => {
    const a = await workspaceWithContainer(host);
    const limits = await execIn(a.containerId, 'ulimit -n; ulimit -Hn');
    expect(limits.stdout.trim().split('\n')).toEqual([String(NOFILE), String(NOFILE)]);
  });
});
