/** The SSE event names of a run (DESIGN.md), in the order a run can produce them. */
export const RUN_EVENT_NAMES = [
  'run.started',
  'user.message',
  'message',
  'approval.requested',
  'approval.resolved',
  'tool.requested',
  'tool.resolved',
  'run.completed',
  'run.failed',
] as const;

export type RunEventName = (typeof RUN_EVENT_NAMES)[number];

/** The events that end a run: exactly one per run, last. */
export type TerminalRunEventName = Extract<RunEventName, 'run.completed' | 'run.failed'>;

export function isRunEventName(value: unknown): value is RunEventName {
  return typeof value === 'string' && (RUN_EVENT_NAMES as readonly string[]).includes(value);
}

export function isTerminalRunEvent(name: RunEventName): name is TerminalRunEventName {
  return name === 'run.completed' || name === 'run.failed';
}
