import { WorkcellError } from '@workcell/protocol';

/**
 * Wraps a failure of the underlying store as `dependency_unavailable` (details name the
 * `objectStore` as the dependency, the operation and key), and keeps the original as `cause`. A WorkcellError (a refused key or range) passes as is.
 */
export function storeError(op: string, key: string, err: unknown): WorkcellError {
  if (err instanceof WorkcellError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const wrapped = new WorkcellError(
    'dependency_unavailable',
    `object store ${op} ${key}: ${message}`,
    {
      op,
      key,
      dependency: 'objectStore',
    },
  );
  wrapped.cause = err;
  return wrapped;
}
