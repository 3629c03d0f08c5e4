import { WorkcellError } from '@workcell/protocol';

/**
 * Where a client resumes a run's events: after the `Last-Event-ID` header's seq, else after
 * `?after=N`, else from the start (0). Anything but a non-negative integer is a 400.
 */
export function resumePoint(
  lastEventId: string | string[] | undefined,
  after: string | undefined,
): number {
  const header = Array.isArray(lastEventId) ? lastEventId[0] : lastEventId;
  const raw = header !== undefined && header.trim() !== '' ? header.trim() : after;
  if (raw === undefined || raw === '') return 0;
  if (!/^\d{1,9}$/.test(raw)) {
    throw new WorkcellError(
      'validation_failed',
      'Last-Event-ID / after must be a non-negative integer',
    );
  }
  return Number(raw);
}
