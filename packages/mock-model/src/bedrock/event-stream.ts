/**
 * Bedrock's `invoke-with-response-stream` framing: each Anthropic stream event travels as one
 * AWS event-stream message (`:message-type` event, `:event-type` chunk) whose JSON payload
 * carries the event's JSON, base64-encoded, under `bytes`.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** Encodes one Anthropic stream event as a binary event-stream `chunk` frame. */
export function encodeChunkFrame(event: unknown): Uint8Array {
  const bytes = Buffer.from(JSON.stringify(event), 'utf8').toString('base64');
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'event' },
      ':event-type': { type: 'string', value: 'chunk' },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: fromUtf8(JSON.stringify({ bytes })),
  });
}
