import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, startTestHost, toolUses, type TestHost } from '../support/host.js';
import { startMcpServer, type TestMcpServer } from './mcp-server.js';
import { putAgent, resultOf, toolResults, workspaceWith } from './support.js';

/**
 * A workspace's remote MCP servers: the agent in its container calls their tools through the
 * credential proxy (the container has no network), their hosts join that workspace's egress
 * policy and no other's, and removing a server closes its host again.
 */
describe('remote MCP servers', () => {
  let host: TestHost;
  let mcp: TestMcpServer;

  beforeAll(async () => {
    mcp = await startMcpServer();
    // The operator allows no host at all; the MCP server's loopback address is allowed, by name,
    // only because the test's server lives there.
    host = await startTestHost({ egressAllowPrivate: '127.0.0.2' });
  });

  afterAll(async () => {
    await host?.close();
    await mcp?.close();
  });

  const audited = (workspaceId: string) =>
    host.workcell.audit
      .recent(workspaceId, 1000)
      .filter((r) => r.host === mcp.host)
      .map((r) => r.decision);

  it("calls an MCP server's tools over streamable HTTP and SSE, through the proxy", async () => {
    const { workspaceId, conversationId } = await workspaceWith(host);
    const put = await putAgent(host, workspaceId, {
      mcpServers: {
        team: { type: 'http', url: `${mcp.origin}/mcp` },
        legacy: { type: 'sse', url: `${mcp.origin}/sse` },
      },
    });
    expect(put.status).toBe(200);
    const egress = await host.wc.egress.get(workspaceId);
    expect(egress.effective.allow).toEqual([`${mcp.host}:${mcp.port}`]);

    const tools = resultOf(await host.send(conversationId, 'MOCK:{"echo": "tools"}')).split('\n');
    expect(tools).toContain('mcp__team__stamp');
    expect(tools).toContain('mcp__legacy__stamp');

    const events = await host.send(
      conversationId,
      [
        'MOCK:{"tool": "mcp__team__stamp", "input": {"word": "over-http"}}',
        'MOCK:{"tool": "mcp__legacy__stamp", "input": {"word": "over-sse"}}',
      ].join('\n'),
    );
    expect(toolUses(events).map((t) => t.name)).toEqual(['mcp__team__stamp', 'mcp__legacy__stamp']);
    const results = toolResults(events);
    expect(results.map((r) => r.isError)).toEqual([false, false]);
    expect(results[0]?.text).toContain('STAMPED:over-http');
    expect(results[1]?.text).toContain('STAMPED:over-sse');
    expect(mcp.methods).toContain('tools/call');
    expect(mcp.methods).toContain('sse:tools/call');
    // Every MCP request was a proxy decision for this workspace.
    expect(audited(workspaceId).length).toBeGreaterThan(0);
    expect(audited(workspaceId).every((d) => d === 'allow')).toBe(true);
  });

  it('opens the host to that workspace only, and closes it when the server is removed', async () => {
    const withMcp = await workspaceWith(host, {
      mcpServers: { team: { type: 'http', url: `${mcp.origin}/mcp` } },
    });
    const other = await workspaceWith(host);
    for (const ws of [withMcp, other])
      expect((await host.send(ws.conversationId, 'MOCK:{"text": "up"}')).at(-1)?.event).toBe(
        'run.completed',
      );
    const containerOf = async (workspaceId: string): Promise<string> =>
      (await host.wc.workspaces.get(workspaceId)).container?.id ?? '';
    const fetchMcp = async (containerId: string): Promise<string> =>
      (
        await docker(
          'exec',
          containerId,
          'curl',
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '-x',
          'http://127.0.0.1:3128',
          `${mcp.origin}/nothing-here`,
        )
      ).trim();

    expect(await fetchMcp(await containerOf(withMcp.workspaceId))).toBe('404');
    expect(await fetchMcp(await containerOf(other.workspaceId))).toBe('403');

    expect((await putAgent(host, withMcp.workspaceId, {})).status).toBe(200);
    expect(await fetchMcp(await containerOf(withMcp.workspaceId))).toBe('403');
    const tools = resultOf(await host.send(withMcp.conversationId, 'MOCK:{"echo": "tools"}'));
    expect(tools).not.toContain('mcp__team__');
  });

  it('refuses an MCP server set for one message only, or with a URL that cannot be a host pattern', async () => {
    const { workspaceId, conversationId } = await workspaceWith(host);
    const once = await host.api(`/v1/conversations/${conversationId}/messages`, {
      method: 'POST',
      body: JSON.stringify({
        content: 'hi',
        agent: { mcpServers: { team: { type: 'http', url: `${mcp.origin}/mcp` } } },
      }),
    });
    expect(once.status).toBe(400);
    const bad = await putAgent(host, workspaceId, {
      mcpServers: { team: { type: 'http', url: 'http://under_score.example/mcp' } },
    });
    expect(bad.status).toBe(400);
    const view = await host.wc.agent.get(workspaceId);
    expect(view.settings).toEqual({});
  });
});
