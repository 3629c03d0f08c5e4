import { describe, expect, it } from 'vitest';
import { WorkcellClient } from '../src/index.js';
import { fakeHost } from './fake-host.js';

describe('terminal.url', () => {
  it('answers the WebSocket URL with the size and the token as access_token', () => {
    const wc = new WorkcellClient({ baseUrl: 'https://wc.example.com/', token: 'tok en' });
    const url = new URL(wc.terminal.url('ws_1/x', { cols: 120, rows: 40 }));
    expect(url.protocol).toBe('wss:');
    expect(url.pathname).toBe('/v1/workspaces/ws_1%2Fx/terminal');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      cols: '120',
      rows: '40',
      access_token: 'tok en',
    });
    const plain = new WorkcellClient({ baseUrl: 'http://127.0.0.1:8080' });
    expect(plain.terminal.url('w')).toBe('ws://127.0.0.1:8080/v1/workspaces/w/terminal');
  });

  it('puts a ticket, and never the token, in the URL when given one', () => {
    const wc = new WorkcellClient({ baseUrl: 'https://wc.example.com', token: 'secret-token' });
    const url = wc.terminal.url('w', { cols: 80, ticket: 'wct_abc-_1' });
    expect(url).not.toContain('secret-token');
    expect(Object.fromEntries(new URL(url).searchParams)).toEqual({
      cols: '80',
      ticket: 'wct_abc-_1',
    });
  });
});

describe('tickets.create', () => {
  it('posts the workspace and purpose with the bearer token and answers the ticket', async () => {
    const host = await fakeHost([
      (_req, res) => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ticket: 'wct_x', expiresAt: '2026-01-01T00:01:00.000Z' }));
      },
    ]);
    try {
      const wc = new WorkcellClient({ baseUrl: host.url, token: 'tok' });
      const ticket = await wc.tickets.create({ workspaceId: 'ws_1', purpose: 'terminal' });
      expect(ticket).toEqual({ ticket: 'wct_x', expiresAt: '2026-01-01T00:01:00.000Z' });
      expect(host.seen[0]).toMatchObject({ method: 'POST', url: '/v1/tickets' });
      expect(host.seen[0]?.headers.authorization).toBe('Bearer tok');
      expect(JSON.parse(host.seen[0]?.body ?? '')).toEqual({
        workspaceId: 'ws_1',
        purpose: 'terminal',
      });
    } finally {
      await host.close();
    }
  });
});
