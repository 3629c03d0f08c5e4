import { WorkcellError, type ErrorBody, type ErrorCode } from '@workcell/protocol';

/** A step of holding a workspace (or of a run) failed: its one error code and the cause's message. */
export class StepFailure extends WorkcellError {
  /** The `{code, message}` a `run.failed` event or an API error carries. */
  get body(): ErrorBody {
    return this.toBody();
  }
}

/** Runs `fn`, turning any failure into the step's error code (keeping the cause's message). */
export async function step<T>(code: ErrorCode, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new StepFailure(code, `${what}: ${message}`);
  }
}
