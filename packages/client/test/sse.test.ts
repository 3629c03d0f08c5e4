import { describe, expect, it } from 'vitest';
import { SseParser } from '../src/sse.js';

describe('SseParser', () => {
  it('reads events split across chunks at any point, with comments and multi-line data', () => {
    const text =
      'retry: 2000\n\n: keep-alive\n\nid: 1\nevent: run.started\ndata: {"a":\ndata: 1}\n\nid: 2\ndata: x\n\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const parser = new SseParser();
      const frames = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))];
      expect(frames).toEqual([
        { id: '1', event: 'run.started', data: '{"a":\n1}' },
        { id: '2', event: 'message', data: 'x' },
      ]);
    }
  });

  it('takes CRLF and CR line ends, even when CRLF is split between chunks', () => {
    const parser = new SseParser();
    const frames = [
      ...parser.push('id: 7\r\nevent: e\r'),
      ...parser.push('\ndata: d\r\r'),
      ...parser.push('id: 8\rdata: f\r\n\r\n'),
    ];
    expect(frames).toEqual([
      { id: '7', event: 'e', data: 'd' },
      { id: '8', event: 'message', data: 'f' },
    ]);
  });
});
