/**
 * What `@workcell/client`'s run stream costs a reader. A local server writes one run of
 * BENCH_EVENTS SSE events (a realistic text-delta payload each, then `run.completed`) as fast as
 * it can; the same bytes are read (a) by `wc.conversations.events()` (SSE parsing, seq checks,
 * JSON parsing, typed events) and (b) by a bare fetch reader that only splits frames and parses
 * their JSON. Median of 5 alternating rounds; the figure is the ratio of (a)'s events per second
 * to (b)'s. Run: npx tsx bench/client-stream.ts (BENCH_EVENTS, default 100000).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkcellClient } from '../packages/client/src/index.js';
import { round } from './api-support.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const ROUNDS = 5;
const PAYLOAD = JSON.stringify({
  type: 'stream_event',
  event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x' } },
  parent_tool_use_id: null,
  uuid: '5c8a1f5e-6a43-4e37-9d8e-0b7f6d3c2a91',
  session_id: 'b753a8e4-2c8b-4af6-a3e1-112c3e6eaedf',
});
const SUMMARY = JSON.stringify({
  sessionId: 's',
  subtype: 'success',
  isError: false,
  interrupted: false,
  durationMs: 1,
  numTurns: 1,
  totalCostUsd: null,
  usage: null,
  result: null,
});

function body(): string {
  const parts: string[] = ['retry: 2000\n\n'];
  for (let seq = 1; seq <= EVENTS; seq++)
    parts.push(`id: ${seq}\nevent: message\ndata: ${PAYLOAD}\n\n`);
  parts.push(`id: ${EVENTS + 1}\nevent: run.completed\ndata: ${SUMMARY}\n\n`);
  return parts.join('');
}

async function main(): Promise<void> {
  const bytes = Buffer.from(body());
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // 64 KiB writes, as a socket would carry them.
    for (let i = 0; i < bytes.length; i += 65_536) res.write(bytes.subarray(i, i + 65_536));
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const wc = new WorkcellClient({ baseUrl: url, token: 't' });

  const viaClient = async (): Promise<number> => {
    const started = performance.now();
    let n = 0;
    for await (const ev of wc.conversations.events('c', 'r')) if (ev.seq > 0) n += 1;
    if (n !== EVENTS + 1) throw new Error(`client read ${n} events`);
    return (n / (performance.now() - started)) * 1000;
  };
  const bare = async (): Promise<number> => {
    const started = performance.now();
    const res = await fetch(`${url}/`);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let n = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const frames = buffer.split('\n\n');
      buffer = frames.pop() ?? '';
      for (const frame of frames) {
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (data) {
          JSON.parse(data.slice(6));
          n += 1;
        }
      }
    }
    if (n !== EVENTS + 1) throw new Error(`bare reader read ${n} events`);
    return (n / (performance.now() - started)) * 1000;
  };

  await viaClient();
  await bare();
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    a.push(await viaClient());
    b.push(await bare());
  }
  const median = (v: number[]): number =>
    [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)] ?? 0;
  const client = median(a);
  const baseline = median(b);
  console.log(
    JSON.stringify(
      {
        events: EVENTS + 1,
        clientEventsPerSecond: Math.round(client),
        bareEventsPerSecond: Math.round(baseline),
        ratio: round(client / baseline),
      },
      null,
      2,
    ),
  );
  server.close();
}

await main();
