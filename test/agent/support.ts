import type { AgentSettings } from '@workcell/client';
import { dataOf, type TestHost } from '../support/host.js';

/** A run's events: the client's, or raw SSE frames. */
type Events = readonly { event: string; data: unknown }[];

/** The final result text of a run (`run.completed`), or throws with the run's last event. */
export function resultOf(events: Events): string {
  const done = dataOf<{ result: string | null; subtype: string }>(events, 'run.completed')[0];
  if (!done) throw new Error(`the run did not complete: ${JSON.stringify(events.at(-1))}`);
  return done.result ?? `(${done.subtype})`;
}

/** The tool_result blocks the SDK reported, with their error flags. */
export function toolResults(events: Events): { isError: boolean; text: string }[] {
  const out: { isError: boolean; text: string }[] = [];
  for (const m of dataOf<{ type: string; message?: { content?: unknown } }>(events, 'message')) {
    if (m.type !== 'user' || !Array.isArray(m.message?.content)) continue;
    for (const block of m.message.content as {
      type: string;
      is_error?: boolean;
      content?: unknown;
    }[]) {
      if (block.type === 'tool_result')
        out.push({ isError: block.is_error === true, text: JSON.stringify(block.content) });
    }
  }
  return out;
}

/** Creates a workspace (with agent settings when given) and a conversation in it. */
export async function workspaceWith(
  host: TestHost,
  agent?: AgentSettings,
): Promise<{ workspaceId: string; conversationId: string }> {
  const ws = await host.wc.workspaces.create(
    agent ? { name: 'agent-test', agent } : { name: 'agent-test' },
  );
  const conv = await host.wc.conversations.create(ws.id);
  return { workspaceId: ws.id, conversationId: conv.id };
}

/** PUTs a workspace's agent settings; answers the status and body. */
export async function putAgent(
  host: TestHost,
  workspaceId: string,
  settings: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await host.api(`/v1/workspaces/${workspaceId}/agent`, {
    method: 'PUT',
    body: JSON.stringify(settings),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
