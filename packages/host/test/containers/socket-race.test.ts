import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialProxy, EMPTY_POLICY } from '@workcell/proxy';
import { SlotStore } from '../../src/containers/slots.js';

/**
 * A container's user (uid 1000) races the host's `listen(); chmod(0666)` on its egress socket,
 * renaming a symlink to a root-only file over the socket path as fast as it can, while the host
 * re-creates the listener again and again (as adopting a running container after a restart
 * does). The socket lives where uid 1000 cannot write, so the host never chmods the target.
 * Needs root (to create the socket as root and to run the racer as uid 1000).
 */
const root = process.getuid?.() === 0;
const ROUNDS = 200;

const RACER = `
const fs = require('node:fs');
const [dirs, target, deadline] = [JSON.parse(process.argv[1]), process.argv[2], Number(process.argv[3])];
let wins = 0, refused = 0, n = 0;
while (Date.now() < deadline) {
  for (const dir of dirs) {
    const tmp = dir + '/.l' + (n++);
    try { fs.symlinkSync(target, tmp); fs.renameSync(tmp, dir + '/egress.sock'); wins++; }
    catch { refused++; try { fs.unlinkSync(tmp); } catch {} }
  }
}
process.stdout.write(JSON.stringify({ wins, refused }));
`;

describe.runIf(root)('the egress socket path (attack: symlink race on chmod)', () => {
  let dataDir: string;
  let canary: string;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'workcell-sockrace-'));
    chmodSync(dataDir, 0o755);
    canary = join(dataDir, 'root-only');
    writeFileSync(canary, 'secret');
    chmodSync(canary, 0o600);
  });

  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('never changes a file outside the slot, however the container races', async () => {
    const slots = new SlotStore(dataDir);
    const slot = await slots.create();
    const proxy = new CredentialProxy({
      logger: pino({ level: 'silent' }),
      audit: () => undefined,
    });
    const racer = spawn(
      process.execPath,
      [
        '-e',
        RACER,
        JSON.stringify([slot.socketDir, slot.egressDir]),
        canary,
        String(Date.now() + 60_000),
      ],
      { uid: 1000, gid: 1000, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    racer.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const done = new Promise<void>((resolve) => racer.once('close', () => resolve()));
    try {
      for (let i = 0; i < ROUNDS; i += 1) {
        const listener = await proxy.listen(
          slot.egressSocket,
          { workspaceId: 'ws-race', containerId: null },
          () => EMPTY_POLICY,
        );
        await listener.close();
        expect(statSync(canary).mode & 0o777, `round ${i}`).toBe(0o600);
      }
    } finally {
      racer.kill('SIGINT');
      await done;
      await proxy.close();
    }
    expect(statSync(canary).mode & 0o777).toBe(0o600);
    expect(statSync(canary).uid).toBe(0);
    // The racer ran, could not write where the egress socket lives, and (as it may) wrote in
    // its own socket directory, which the host no longer follows.
    expect(statSync(slot.egressDir).uid).toBe(0);
    expect(statSync(slot.egressDir).mode & 0o022).toBe(0);
  });
});
