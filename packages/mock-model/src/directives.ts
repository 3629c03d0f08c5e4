/**
 * `MOCK:{...}` directives: parsing them from a prompt, and choosing what one model turn answers
 * given how many tool calls the conversation has already made since that prompt.
 */
import { posix } from 'node:path';
import type { EchoSource } from './echo.js';
import { fromToolsetName } from './toolset-names.js';

export const DIRECTIVE_PREFIX = 'MOCK:';

/** The directory a relative `file_path` in a tool directive is taken under. */
export const WORKSPACE_DIR = '/workspace';

/** The reply after the last tool call of a prompt whose directives end with a tool. */
export const DONE_TEXT = 'done';

const MAX_CHUNKS = 1_000_000;
const MAX_SLEEP_MS = 3_600_000;
const PATH_KEYS = ['file_path', 'notebook_path'] as const;
const DIRECTIVE_KEYS = ['text', 'tool', 'sleep_ms', 'chunks', 'report', 'echo'] as const;
const ECHO_KINDS = ['model', 'tools', 'context'] as const;

/** The reply of a context echo that no line matches. */
export const NO_MATCH_TEXT = '(no line matches)';

export type Directive =
  | { kind: 'text'; text: string }
  | { kind: 'tool'; name: string; input: Record<string, unknown> }
  | { kind: 'sleep'; ms: number }
  | { kind: 'chunks'; count: number; text: string }
  | { kind: 'report'; what: 'turns' }
  | { kind: 'echo'; what: (typeof ECHO_KINDS)[number]; grep: string | undefined; line: string };

export type ParsedPrompt =
  { ok: true; directives: Directive[] } | { ok: false; line: number; message: string };

/** One content block of a planned reply; a text block is streamed as its `deltas`. */
export type PlannedBlock =
  | { type: 'text'; deltas: string[] }
  | { type: 'tool_use'; name: string; input: Record<string, unknown> };

/** What one model turn answers. */
export interface TurnPlan {
  sleepMs: number;
  blocks: PlannedBlock[];
  stopReason: 'end_turn' | 'tool_use';
}

/** Facts about the request that a plan depends on. */
export interface TurnContext {
  userText: string | null;
  priorUserTurns: number;
  toolCallsSincePrompt: number;
  /** False when the request offers no tools (side requests such as title generation). */
  toolsOffered: boolean;
  /** What the echo directives read; without it they reply with an empty text. */
  echo?: EchoSource;
  /** The names of the tools the request offers; a tool directive names one of them. */
  offeredTools?: readonly string[];
}

/**
 * The offered tool a `tool` directive means: the one named exactly so, else the one whose name
 * equals it ignoring case, else one ending with `__<name>` (an MCP tool, such as a client tool
 * `mcp__workcell_client__lookup_order` for `lookup_order`). Unmatched names are called as given.
 */
export function resolveToolName(name: string, offered: readonly string[]): string {
  if (offered.includes(name)) return name;
  const lower = name.toLowerCase();
  return (
    offered.find((t) => t.toLowerCase() === lower) ??
    offered.find((t) => t.toLowerCase().endsWith(`__${lower}`)) ??
    name
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function withAbsolutePaths(input: Record<string, unknown>): Record<string, unknown> {
  const result = { ...input };
  for (const key of PATH_KEYS) {
    const value = result[key];
    if (typeof value === 'string' && value.length > 0 && !posix.isAbsolute(value)) {
      result[key] = posix.join(WORKSPACE_DIR, value);
    }
  }
  return result;
}

function toDirective(value: unknown, line: string): Directive | string {
  if (!isRecord(value)) return 'a directive is a JSON object';
  const kinds = DIRECTIVE_KEYS.filter((key) => key in value);
  const [kind] = kinds;
  if (kinds.length !== 1 || kind === undefined) {
    return `a directive names exactly one of ${DIRECTIVE_KEYS.map((key) => `"${key}"`).join(', ')}`;
  }
  switch (kind) {
    case 'text':
      return typeof value.text === 'string'
        ? { kind: 'text', text: value.text }
        : '"text" is a string';
    case 'tool': {
      const input = value.input ?? {};
      if (typeof value.tool !== 'string' || value.tool.length === 0) return '"tool" is a tool name';
      if (!isRecord(input)) return '"input" is a JSON object';
      return { kind: 'tool', ...fromToolsetName(value.tool, withAbsolutePaths(input)) };
    }
    case 'sleep_ms': {
      const ms = value.sleep_ms;
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_SLEEP_MS) {
        return `"sleep_ms" is a number of milliseconds from 0 to ${MAX_SLEEP_MS}`;
      }
      return { kind: 'sleep', ms };
    }
    case 'chunks': {
      const count = value.chunks;
      const text = value.chunk_text ?? 'x';
      if (
        typeof count !== 'number' ||
        !Number.isInteger(count) ||
        count < 1 ||
        count > MAX_CHUNKS
      ) {
        return `"chunks" is a whole number from 1 to ${MAX_CHUNKS}`;
      }
      if (typeof text !== 'string' || text.length === 0)
        return '"chunk_text" is a non-empty string';
      return { kind: 'chunks', count, text };
    }
    case 'report':
      return value.report === 'turns' ? { kind: 'report', what: 'turns' } : '"report" is "turns"';
    case 'echo': {
      const what = ECHO_KINDS.find((k) => k === value.echo);
      if (what === undefined)
        return `"echo" is one of ${ECHO_KINDS.map((k) => `"${k}"`).join(', ')}`;
      if (value.grep !== undefined && (typeof value.grep !== 'string' || value.grep === ''))
        return '"grep" is a non-empty string';
      return { kind: 'echo', what, grep: value.grep, line };
    }
  }
}

/** Reads every `MOCK:` line of a prompt, in order; the first malformed line fails the parse. */
export function parseDirectives(text: string): ParsedPrompt {
  const directives: Directive[] = [];
  for (const [index, rawLine] of text.split(/\r?\n/).entries()) {
    const line = rawLine.trim();
    if (!line.startsWith(DIRECTIVE_PREFIX)) continue;
    let value: unknown;
    try {
      value = JSON.parse(line.slice(DIRECTIVE_PREFIX.length));
    } catch (error) {
      return { ok: false, line: index + 1, message: (error as Error).message };
    }
    const directive = toDirective(value, line);
    if (typeof directive === 'string') return { ok: false, line: index + 1, message: directive };
    directives.push(directive);
  }
  return { ok: true, directives };
}

interface Step {
  /** The text, chunk, report, echo and sleep directives before the step's tool call, in order. */
  before: Exclude<Directive, { kind: 'tool' }>[];
  tool: { name: string; input: Record<string, unknown> } | null;
}

function splitIntoSteps(directives: Directive[]): Step[] {
  const steps: Step[] = [];
  let current: Step = { before: [], tool: null };
  for (const directive of directives) {
    if (directive.kind === 'tool') {
      current.tool = { name: directive.name, input: directive.input };
      steps.push(current);
      current = { before: [], tool: null };
    } else {
      current.before.push(directive);
    }
  }
  if (current.before.length > 0) steps.push(current);
  return steps;
}

function textPlan(text: string): TurnPlan {
  return { sleepMs: 0, blocks: [{ type: 'text', deltas: [text] }], stopReason: 'end_turn' };
}

function echoText(directive: Extract<Directive, { kind: 'echo' }>, source?: EchoSource): string {
  if (!source) return '';
  switch (directive.what) {
    case 'model':
      return source.model;
    case 'tools':
      return source.toolNames.join('\n');
    case 'context': {
      const lines = source.contextLines(directive.grep, directive.line);
      return lines.length > 0 ? lines.join('\n') : NO_MATCH_TEXT;
    }
  }
}

/**
 * Plans one model turn. The directives are cut into steps that each end with a tool call; the
 * turn runs the step after the `toolCallsSincePrompt` already made. Text before a tool call goes
 * in the same turn as the call; a step without a tool ends the turn; once every step has run
 * the turn answers "done". Distinct text directives are separated by a newline. A request that
 * offers no tools (a side request such as a title) gets the text directives only.
 */
export function planTurn(context: TurnContext): TurnPlan {
  const prompt = context.userText ?? '';
  const parsed = parseDirectives(prompt);
  if (!parsed.ok) {
    return textPlan(`mock-model: malformed directive on line ${parsed.line}: ${parsed.message}`);
  }
  if (parsed.directives.length === 0) return textPlan(`You said: ${prompt}`);

  const directives = context.toolsOffered
    ? parsed.directives
    : parsed.directives.filter((directive) => directive.kind !== 'tool');
  const step = splitIntoSteps(directives)[context.toolsOffered ? context.toolCallsSincePrompt : 0];
  if (step === undefined) return textPlan(DONE_TEXT);

  let sleepMs = 0;
  const deltas: string[] = [];
  for (const directive of step.before) {
    const separator = deltas.length > 0 ? '\n' : '';
    switch (directive.kind) {
      case 'text':
        deltas.push(separator + directive.text);
        break;
      case 'chunks':
        deltas.push(separator + directive.text);
        for (let i = 1; i < directive.count; i += 1) deltas.push(directive.text);
        break;
      case 'report':
        deltas.push(`${separator}prior_user_turns=${context.priorUserTurns}`);
        break;
      case 'echo':
        deltas.push(separator + echoText(directive, context.echo));
        break;
      case 'sleep':
        sleepMs += directive.ms;
        break;
    }
  }
  if (step.tool === null) {
    return {
      sleepMs,
      blocks: [{ type: 'text', deltas: deltas.length > 0 ? deltas : [DONE_TEXT] }],
      stopReason: 'end_turn',
    };
  }
  const blocks: PlannedBlock[] = deltas.length > 0 ? [{ type: 'text', deltas }] : [];
  blocks.push({
    type: 'tool_use',
    name: resolveToolName(step.tool.name, context.offeredTools ?? []),
    input: step.tool.input,
  });
  return { sleepMs, blocks, stopReason: 'tool_use' };
}
