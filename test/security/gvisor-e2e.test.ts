import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, docker, startTestHost, toolUses, type TestHost } from '../support/host.js';
import { execIn, fakeSecret } from './support.js';

/**
 * The walking skeleton's end-to-end flow (test/e2e/walking-skeleton.test.ts) with
 * WORKCELL_RUNTIME=runsc: the real SDK runs in a gVisor sandbox, reaches the model through the
 * egress socket on its bind mount, and its files come back through the API.
 */

const WRITE_AND_COPY = [
  'MOCK:{"tool": "Write", "input": {"file_path": "hello.txt", "content": "hello from gVisor\\n"}}',
  'MOCK:{"tool": "Bash", "input": {"command": "cat input.txt > copy.txt"}}',
  'MOCK:{"text": "all done"}',
].join('\n');

describe('a prompt runs the real Claude Agent SDK under gVisor (WORKCELL_RUNTIME=runsc)', () => {
  let host: TestHost;
  let workspaceId: string;
  let conversationId: string;
  let containerId: string;

  beforeAll(async () => {
    host = await startTestHost({ runtime: 'runsc', anthropicApiKey: fakeSecret('sk-ant-gvisor-') });
    ({ workspaceId, conversationId } = await host.conversation());
  });

  afterAll(async () => {
    await host?.close();
  });

  it('runs Write and Bash tools in /workspace and the files API shows the results', async () => {
    const put = await host.api(`/v1/workspaces/${workspaceId}/files/input.txt`, {
      method: 'PUT',
      body: 'input from the user\n',
      headers: { 'content-type': 'text/plain' },
    });
    expect(put.status).toBe(201);

    const events = await host.send(conversationId, WRITE_AND_COPY);
    expect(events[0]?.event).toBe('run.started');
    expect(events.at(-1)?.event).toBe('run.completed');
    expect(toolUses(events).map((t) => t.name)).toEqual(['Write', 'Bash']);
    expect(dataOf<{ isError: boolean }>(events, 'run.completed')[0]).toMatchObject({
      isError: false,
    });

    const list = await host.json<{ files: { path: string }[] }>(
      `/v1/workspaces/${workspaceId}/files`,
    );
    expect(list.files.map((f) => f.path).sort()).toEqual(['copy.txt', 'hello.txt', 'input.txt']);
    expect(await (await host.api(`/v1/workspaces/${workspaceId}/files/hello.txt`)).text()).toBe(
      'hello from gVisor\n',
    );
    expect(await (await host.api(`/v1/workspaces/${workspaceId}/files/copy.txt`)).text()).toBe(
      'input from the user\n',
    );
    const ws = await host.json<{ container: { id: string } | null }>(
      `/v1/workspaces/${workspaceId}`,
    );
    containerId = ws.container?.id ?? '';
    expect(containerId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reuses the sandbox for the next message', async () => {
    const events = await host.send(conversationId, 'MOCK:{"text": "second"}');
    expect(events.at(-1)?.event).toBe('run.completed');
    const ws = await host.json<{ container: { id: string } | null }>(
      `/v1/workspaces/${workspaceId}`,
    );
    expect(ws.container?.id).toBe(containerId);
  });

  it('creates the container under runsc with every hardening setting', async () => {
    const [info] = JSON.parse(await docker('inspect', containerId)) as [
      { Config: { User: string }; HostConfig: Record<string, unknown> },
    ];
    const hc = info.HostConfig;
    expect(hc.Runtime).toBe('runsc');
    expect(hc.NetworkMode).toBe('none');
    expect(hc.ReadonlyRootfs).toBe(true);
    expect(hc.CapDrop).toEqual(['ALL']);
    expect(hc.SecurityOpt).toContain('no-new-privileges:true');
    expect(info.Config.User).toBe('1000:1000');
    // Inside, the kernel is gVisor's (it reports its own version), not the host's.
    const inside = await execIn(containerId, 'uname -r; id -u; grep CapEff /proc/self/status');
    const hostKernel = (await docker('info', '--format', '{{.KernelVersion}}')).trim();
    const [kernel, uid, capEff] = inside.stdout.trim().split('\n');
    expect(kernel).not.toBe(hostKernel);
    expect(uid).toBe('1000');
    expect(capEff).toMatch(/CapEff:\s+0000000000000000/);
  });

  it('sends the host key upstream and the key appears nowhere in the sandbox', async () => {
    const key = host.workcell.config.anthropicApiKey ?? '';
    const calls = host.mock.requests.filter((r) => r.api === 'anthropic');
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) expect(call.apiKeys).toEqual([key]);
    // One exec per probe: each reads the key from its own stdin.
    const search = async (script: string): Promise<string> =>
      (await execIn(containerId, script, { stdin: `${key}\n`, timeoutMs: 120_000 })).stdout.trim();
    expect(await search('env | grep -cF -f /dev/stdin || true')).toBe('0');
    expect(
      await search(
        'grep -laF -f /dev/stdin /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null; echo scanned',
      ),
    ).toBe('scanned');
    expect(
      await search(
        'grep -rlaF -D skip -f /dev/stdin / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null; echo scanned',
      ),
    ).toBe('scanned');
    for (const line of host.logs) expect(line.includes(key)).toBe(false);
  });
});
