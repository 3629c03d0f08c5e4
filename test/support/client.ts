import {
  WorkcellClient,
  type MessageAgentInput,
  type MessageContent,
  type RunEvent,
} from '@workcell/client';

/** Request options with the bearer token to use: the client's own by default, `null` for none. */
export type ApiInit = RequestInit & { token?: string | null };

/**
 * The helpers system tests use against a Workcell host at `url`: `wc` is the typed client every
 * test drives the API with; `api` sends a raw request, for tests about HTTP itself (status codes,
 * headers, hostile input) that the client would not let through.
 */
export function apiClient(url: string, token: string) {
  const wc = new WorkcellClient({ baseUrl: url, token });
  const api = (path: string, init: ApiInit = {}): Promise<Response> => {
    const { token: override, ...rest } = init;
    const headers = new Headers(rest.headers);
    const use = override === undefined ? token : override;
    if (use) headers.set('authorization', `Bearer ${use}`);
    if (typeof rest.body === 'string' && !headers.has('content-type'))
      headers.set('content-type', 'application/json');
    return fetch(`${url}${path}`, { ...rest, headers });
  };
  return {
    wc,
    api,
    /** The client for another token. */
    as: (other: string): WorkcellClient => new WorkcellClient({ baseUrl: url, token: other }),
    /** Creates a workspace and a conversation in it. */
    async conversation(): Promise<{ workspaceId: string; conversationId: string }> {
      const ws = await wc.workspaces.create({ name: 'test' });
      const conv = await wc.conversations.create(ws.id);
      return { workspaceId: ws.id, conversationId: conv.id };
    },
    /**
     * Sends a message (content, and the message's agent overrides when given) and reads the
     * whole run (to its terminal event).
     */
    send(
      conversationId: string,
      content: MessageContent,
      agent?: MessageAgentInput,
    ): Promise<RunEvent[]> {
      return wc.conversations.send(conversationId, content, agent ? { agent } : {}).toArray();
    },
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

/** Parsed `data` of the events named `name`; takes the client's events or raw SSE frames. */
export function dataOf<T = Record<string, unknown>>(
  events: readonly { event: string; data: unknown }[],
  name: string,
): T[] {
  return events
    .filter((e) => e.event === name)
    .map((e) => (typeof e.data === 'string' ? JSON.parse(e.data) : e.data) as T);
}
