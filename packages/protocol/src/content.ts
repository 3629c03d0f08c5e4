import { z } from 'zod';

/**
 * A message's content as the Messages API takes it: a string, or content blocks (text, and
 * images as base64). The same shape goes from the client to the host, into the run's
 * `user.message` event, and over the wire to the agent, which hands it to the SDK unchanged.
 */

export const IMAGE_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;

/**
 * Standard base64 (RFC 4648 section 4), padded; what the Messages API accepts in `data`. A
 * single character class keeps the match linear on megabytes (a repeated group overflows the
 * regular expression engine's stack).
 */
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;
const isBase64 = (data: string): boolean => data.length % 4 === 0 && BASE64_CHARS.test(data);

export const textBlockSchema = z
  .object({ type: z.literal('text'), text: z.string().min(1) })
  .strict()
  .describe('a text block');

export const imageBlockSchema = z
  .object({
    type: z.literal('image'),
    source: z
      .object({
        type: z.literal('base64'),
        media_type: z.enum(IMAGE_MEDIA_TYPES),
        data: z.string().min(4).refine(isBase64, 'must be padded base64'),
      })
      .strict(),
  })
  .strict()
  .describe('an image, base64-encoded');

export const contentBlockSchema = z.discriminatedUnion('type', [textBlockSchema, imageBlockSchema]);
export type ContentBlock = z.infer<typeof contentBlockSchema>;

export const messageContentSchema = z
  .union([z.string().min(1), z.array(contentBlockSchema).min(1).max(100)])
  .describe('the prompt: a string, or content blocks (text, and images as base64)');
export type MessageContent = z.infer<typeof messageContentSchema>;

/** Bytes of a message's text (UTF-8) and of its images (decoded). */
export function measureContent(content: MessageContent): { textBytes: number; imageBytes: number } {
  if (typeof content === 'string')
    return { textBytes: Buffer.byteLength(content, 'utf8'), imageBytes: 0 };
  let textBytes = 0;
  let imageBytes = 0;
  for (const block of content) {
    if (block.type === 'text') textBytes += Buffer.byteLength(block.text, 'utf8');
    else imageBytes += decodedBase64Bytes(block.source.data);
  }
  return { textBytes, imageBytes };
}

function decodedBase64Bytes(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return (data.length / 4) * 3 - padding;
}
