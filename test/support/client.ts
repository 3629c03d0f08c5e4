import { readSse, type SseEvent } from './sse.js';

/** Request options with the bearer token to use: the client's own by default, `null` for none. */
export type ApiInit = RequestInit & { token?: string | null };

/** HTTP helpers for a Workcell host at `url`, authenticating with `token`. */
export function apiClient(url: string, token: string) {
  const api = (path: string, init: ApiInit = {}): Promise<Response> => {
    const { token: override, ...rest } = init;
    const headers = new Headers(rest.headers);
    const use = override === undefined ? token : override;
    if (use) headers.set('authorization', `Bearer ${use}`);
    if (typeof rest.body === 'string' && !headers.has('content-type'))
      headers.set('content-type', 'application/json');
    return fetch(`${url}${path}`, { ...rest, headers });
  };
  const json = async <T = Record<string, unknown>>(
    path: string,
    init: ApiInit = {},
  ): Promise<T> => {
    const res = await api(path, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path} answered ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  };
  return {
    api,
    json,
    /** Creates a workspace and a conversation in it. */
    async conversation(): Promise<{ workspaceId: string; conversationId: string }> {
      const ws = await json<{ id: string }>('/v1/workspaces', {
        method: 'POST',
        body: JSON.stringify({ name: 'test' }),
      });
      const conv = await json<{ id: string }>(`/v1/workspaces/${ws.id}/conversations`, {
        method: 'POST',
        body: JSON.stringify({}),
      });
      return { workspaceId: ws.id, conversationId: conv.id };
    },
    /**
     * Posts a message (content, and the message's agent overrides when given) with Accept:
     * text/event-stream and reads the whole run.
     */
    async send(
      conversationId: string,
      content: string | Record<string, unknown>[],
      agent?: Record<string, unknown>,
    ): Promise<SseEvent[]> {
      const res = await api(`/v1/conversations/${conversationId}/messages`, {
        method: 'POST',
        headers: { accept: 'text/event-stream' },
        body: JSON.stringify(agent ? { content, agent } : { content }),
      });
      if (res.status !== 200)
        throw new Error(`message answered ${res.status}: ${await res.text()}`);
      return readSse(res);
    },
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

/** Parsed `data` of the events named `name`. */
export function dataOf<T = Record<string, unknown>>(events: SseEvent[], name: string): T[] {
  return events.filter((e) => e.event === name).map((e) => JSON.parse(e.data) as T);
}
