import type { IncomingMessage } from 'node:http';
import type { BodyBudget } from '../limits/body-budget.js';

export type BodyResult =
  | { ok: true; body: Buffer }
  | { ok: false; reason: 'body-too-large' | 'body-budget-exhausted' | 'aborted' };

/**
 * Reads the whole body, up to `max` bytes, reserving each chunk from the host-wide budget
 * before keeping it. On success the caller owns the reservation (`body.length` bytes) and
 * releases it once the body is sent or dropped; on failure nothing stays reserved.
 */
export function readBody(
  req: IncomingMessage,
  max: number,
  budget: BodyBudget,
  onChunk: (n: number) => void,
): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (reason: 'body-too-large' | 'body-budget-exhausted' | 'aborted'): void => {
      if (settled) return;
      settled = true;
      req.removeListener('data', onData);
      req.pause();
      budget.release(size);
      resolve({ ok: false, reason });
    };
    const onData = (chunk: Buffer): void => {
      onChunk(chunk.length);
      if (size + chunk.length > max) {
        fail('body-too-large');
        return;
      }
      if (!budget.tryReserve(chunk.length)) {
        fail('body-budget-exhausted');
        return;
      }
      size += chunk.length;
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (settled) return;
      settled = true;
      resolve({ ok: true, body: Buffer.concat(chunks, size) });
    });
    req.once('error', (err) => {
      if (settled) return;
      settled = true;
      budget.release(size);
      reject(err);
    });
    // A client that goes away mid-body (or is timed out) settles the read.
    req.once('close', () => fail('aborted'));
  });
}
