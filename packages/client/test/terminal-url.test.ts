import { describe, expect, it } from 'vitest';
import { WorkcellClient } from '../src/index.js';

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
});
