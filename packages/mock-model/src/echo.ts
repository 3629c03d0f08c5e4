/**
 * What the echo directives reply with: facts about the request itself, so a test can see what
 * reached the model (the model id, the tools offered, lines of the system prompt and the
 * messages) without a real model.
 */

const SYSTEM_REMINDER = /<system-reminder>[\s\S]*?<\/system-reminder>/g;

type Block = Record<string, unknown>;

/** The request facts the echo directives read. */
export interface EchoSource {
  model: string;
  /** The names of the tools the request offers, in order. */
  toolNames: string[];
  /**
   * Every line of the system prompt and of the messages that contains `grep` (every line when
   * it is undefined). A text block holding `directiveLine` keeps only its `<system-reminder>`
   * parts, so the directive (and the marker it greps for) is never its own match. An image
   * block is one line, `[image <media type>, <bytes> bytes]`.
   */
  contextLines(grep: string | undefined, directiveLine: string): string[];
}

function blocksOf(content: unknown): Block[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) return [];
  return content.filter((block): block is Block => typeof block === 'object' && block !== null);
}

/** The text lines one content block contributes. */
function blockLines(block: Block, directiveLine: string): string[] {
  if (block.type === 'text' && typeof block.text === 'string') {
    const text = block.text.includes(directiveLine)
      ? (block.text.match(SYSTEM_REMINDER) ?? []).join('\n')
      : block.text;
    return text.split(/\r?\n/);
  }
  if (block.type === 'image') {
    const source = (block.source ?? {}) as { media_type?: unknown; data?: unknown };
    const bytes = typeof source.data === 'string' ? Buffer.from(source.data, 'base64').length : 0;
    return [`[image ${String(source.media_type)}, ${bytes} bytes]`];
  }
  if (block.type === 'tool_result') {
    return blocksOf(block.content).flatMap((inner) => blockLines(inner, directiveLine));
  }
  return [];
}

/** Reads the echo facts from a Messages request body (Anthropic or Bedrock shape). */
export function echoSource(body: Record<string, unknown>, model: string): EchoSource {
  const tools = Array.isArray(body.tools) ? (body.tools as unknown[]) : [];
  const toolNames = tools
    .map((tool) =>
      typeof tool === 'object' && tool !== null ? (tool as { name?: unknown }).name : undefined,
    )
    .filter((name): name is string => typeof name === 'string');
  return {
    model,
    toolNames,
    contextLines(grep, directiveLine) {
      const lines: string[] = [];
      for (const block of blocksOf(body.system)) lines.push(...blockLines(block, directiveLine));
      const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
      for (const message of messages) {
        if (typeof message !== 'object' || message === null) continue;
        const { content } = message as { content?: unknown };
        for (const block of blocksOf(content)) lines.push(...blockLines(block, directiveLine));
      }
      return lines.filter((line) => grep === undefined || line.includes(grep));
    },
  };
}
