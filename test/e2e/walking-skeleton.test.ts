import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, docker, startTestHost, toolUses, type TestHost } from '../support/host.js';

const WRITE_AND_COPY = [
  'MOCK:{"tool": "Write", "input": {"file_path": "hello.txt", "content": "hello from the agent\\n"}}',
  'MOCK:{"tool": "Bash", "input": {"command": "cat input.txt > copy.txt"}}',
  'MOCK:{"text": "all done"}',
].join('\n');

/** The same path under both OCI runtimes: runc, and gVisor's runsc (WORKCELL_RUNTIME=runsc). */
describe.each(['runc', 'runsc'] as const)(
  'a prompt runs the real Claude Agent SDK in a hardened container and streams back (%s)',
  (runtime) => {
    let host: TestHost;
    let workspaceId: string;
    let conversationId: string;
    let containerId: string;

    beforeAll(async () => {
      host = await startTestHost({
        runtime,
        anthropicApiKey: `sk-ant-test-${Math.random().toString(36).slice(2)}${Date.now()}`,
      });
      ({ workspaceId, conversationId } = await host.conversation());
    });

    afterAll(async () => {
      await host?.close();
    });

    it('runs Write and Bash tools in /workspace and the files API shows the results', async () => {
      const put = await host.wc.files.upload(workspaceId, 'input.txt', 'input from the user\n');
      expect(put).toMatchObject({ path: 'input.txt', size: 20 });

      const events = await host.send(conversationId, WRITE_AND_COPY);
      const names = events.map((e) => e.event);
      expect(names[0]).toBe('run.started');
      expect(names.at(-1)).toBe('run.completed');
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      const started = dataOf<{ runId: string; conversationId: string; workspaceId: string }>(
        events,
        'run.started',
      )[0];
      expect(started).toMatchObject({ conversationId, workspaceId });

      const tools = toolUses(events);
      expect(tools.map((t) => t.name)).toEqual(['Write', 'Bash']);
      expect(tools[0]?.input.file_path).toBe('/workspace/hello.txt');
      const kinds = new Set(dataOf<{ type: string }>(events, 'message').map((m) => m.type));
      expect(kinds).toContain('stream_event');
      expect(kinds).toContain('result');
      const completed = dataOf<{ isError: boolean; subtype: string }>(events, 'run.completed')[0];
      expect(completed).toMatchObject({ isError: false, subtype: 'success' });

      const list = await host.wc.files.list(workspaceId);
      expect(list.map((f) => f.path).sort()).toEqual(['copy.txt', 'hello.txt', 'input.txt']);
      expect(await host.wc.files.text(workspaceId, 'hello.txt')).toBe('hello from the agent\n');
      expect(await host.wc.files.text(workspaceId, 'copy.txt')).toBe('input from the user\n');

      const ws = await host.wc.workspaces.get(workspaceId);
      expect(ws.container?.state).toBe('idle');
      containerId = ws.container?.id ?? '';
      expect(containerId).toMatch(/^[0-9a-f]{64}$/);
    });

    it('reuses the workspace container for the next message', async () => {
      const events = await host.send(conversationId, 'MOCK:{"text": "second"}');
      expect(events.at(-1)?.event).toBe('run.completed');
      const ws = await host.wc.workspaces.get(workspaceId);
      expect(ws.container?.id).toBe(containerId);
    });

    it('creates the container with every hardening setting', async () => {
      const [info] = JSON.parse(await docker('inspect', containerId)) as [
        {
          Config: { User: string; Labels: Record<string, string>; Env: string[] };
          HostConfig: Record<string, unknown> & { Tmpfs: Record<string, string>; Binds: string[] };
          Mounts: { Type: string; Destination: string; Source: string }[];
        },
      ];
      const hc = info.HostConfig;
      expect(hc.Runtime).toBe(runtime);
      expect(hc.NetworkMode).toBe('none');
      expect(hc.ReadonlyRootfs).toBe(true);
      expect(hc.CapDrop).toEqual(['ALL']);
      expect(hc.CapAdd ?? null).toBeNull();
      expect(hc.SecurityOpt).toContain('no-new-privileges:true');
      expect(hc.Privileged).toBe(false);
      expect(hc.PidsLimit).toBe(512);
      expect(hc.Memory).toBe(1024 * 1024 * 1024);
      expect(hc.NanoCpus).toBe(1e9);
      expect(info.Config.User).toBe('1000:1000');
      expect(Object.keys(hc.Tmpfs).sort()).toEqual(['/home/agent', '/tmp']);
      expect(info.Config.Labels['workcell.managed']).toBe('true');
      expect(info.Config.Labels['workcell.host']).toBe(host.workcell.config.hostId);
      const destinations = info.Mounts.map((m) => m.Destination).sort();
      expect(destinations).toEqual([
        '/run/workcell',
        '/run/workcell-egress',
        '/var/lib/workcell/claude',
        '/workspace',
      ]);
      // The egress socket's directory is the host's alone: read-only inside.
      expect(hc.Binds).toContain(
        `${info.Mounts.find((m) => m.Destination === '/run/workcell-egress')?.Source}:/run/workcell-egress:ro`,
      );
      expect(hc.Ulimits).toEqual([{ Name: 'nofile', Soft: 4096, Hard: 4096 }]);
      for (const m of info.Mounts) {
        expect(m.Type).toBe('bind');
        expect(m.Source.startsWith(host.dataDir)).toBe(true);
        expect(m.Source).not.toContain('docker.sock');
      }
      const ps = await docker(
        'exec',
        containerId,
        'sh',
        '-c',
        'id -u; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; test -e /var/run/docker.sock && echo socket-present || echo socket-absent; uname -r',
      );
      expect(ps).toMatch(/^1000\n/);
      expect(ps).toMatch(/CapEff:\s+0000000000000000/);
      // gVisor's /proc has no NoNewPrivs line; test/security/privilege.test.ts probes the flag itself.
      if (runtime === 'runc') expect(ps).toMatch(/NoNewPrivs:\s+1/);
      expect(ps).toMatch(/socket-absent/);
      // Under gVisor the kernel the container sees is gVisor's own, not the host's.
      const hostKernel = (await docker('info', '--format', '{{.KernelVersion}}')).trim();
      const kernel = ps.trim().split('\n').at(-1);
      if (runtime === 'runsc') expect(kernel).not.toBe(hostKernel);
      else expect(kernel).toBe(hostKernel);
    });

    it('sends the host key upstream and the key appears nowhere in the container', async () => {
      const key = host.workcell.config.anthropicApiKey ?? '';
      expect(key.length).toBeGreaterThan(20);
      const modelCalls = host.mock.requests.filter((r) => r.api === 'anthropic');
      expect(modelCalls.length).toBeGreaterThan(0);
      for (const call of modelCalls) expect(call.apiKeys).toEqual([key]);

      // The key goes in on stdin (grep -f), so it is never in any argv or environment inside.
      const search = async (script: string): Promise<string> => {
        const { execFile } = await import('node:child_process');
        return new Promise((resolve) => {
          const child = execFile(
            'docker',
            ['exec', '-i', containerId, 'sh', '-c', script],
            { maxBuffer: 8 * 1024 * 1024 },
            (_err, stdout) => resolve(stdout),
          );
          child.stdin?.end(`${key}\n`);
        });
      };
      const env = await search('env | grep -cF -f /dev/stdin || true');
      expect(env.trim()).toBe('0');
      const procs = await search(
        'grep -laF -f /dev/stdin /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null; echo scanned',
      );
      expect(procs.trim()).toBe('scanned');
      const files = await search(
        'grep -rlaF -D skip -f /dev/stdin / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null; echo scanned',
      );
      expect(files.trim()).toBe('scanned');
      for (const line of host.logs) expect(line.includes(key)).toBe(false);
    });

    it('answers bad input with clear errors', async () => {
      await expect(host.wc.workspaces.get('ws_0000000000000000')).rejects.toMatchObject({
        status: 404,
        code: 'not_found',
      });
      await expect(host.wc.conversations.get('conv_0000000000000000')).rejects.toMatchObject({
        status: 404,
        code: 'not_found',
      });
      const garbageId = await host.api('/v1/conversations/..%2f..%2fetc/messages', {
        method: 'POST',
        body: '{"content":"x"}',
      });
      expect(garbageId.status).toBe(404);

      await expect(host.as('').workspaces.list()).rejects.toMatchObject({
        status: 401,
        code: 'unauthorized',
      });
      await expect(host.as('tok_wrong_wrong_wrong_wrong').workspaces.list()).rejects.toMatchObject({
        status: 401,
        code: 'unauthorized',
      });

      // Input the client would never send, straight over HTTP.

      const malformed = await host.api('/v1/workspaces', {
        method: 'POST',
        body: '{"name": ',
        headers: { 'content-type': 'application/json' },
      });
      expect(malformed.status).toBe(400);
      expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe(
        'invalid_json',
      );
      const badMessage = await host.api(`/v1/conversations/${conversationId}/messages`, {
        method: 'POST',
        body: '{"content": 42}',
      });
      expect(badMessage.status).toBe(400);
      expect(((await badMessage.json()) as { error: { code: string } }).error.code).toBe(
        'validation_failed',
      );
    });
  },
);
