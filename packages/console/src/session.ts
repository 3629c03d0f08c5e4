import { WorkcellApiError, WorkcellClient } from '@workcell/client';

/**
 * The API token lives in sessionStorage only: it is gone when the browser session ends, it is
 * never written to localStorage or a cookie, and it is sent only as a bearer header to this
 * origin.
 */
const KEY = 'workcell.token';

export function storedToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}

/** A client for this origin with `token`. */
export function clientFor(token: string): WorkcellClient {
  return new WorkcellClient({ baseUrl: '', token });
}

/** Checks the token against the API and keeps it for the session; throws a readable error. */
export async function signIn(token: string): Promise<WorkcellClient> {
  const wc = clientFor(token);
  await wc.workspaces.page({ limit: 1 });
  sessionStorage.setItem(KEY, token);
  return wc;
}

/** A message for any error, as plainly as the API said it. */
export function describeError(err: unknown): string {
  if (err instanceof WorkcellApiError) {
    if (err.code === 'unauthorized') return 'That API token was not accepted.';
    return `${err.message} (${err.code}${err.status ? `, HTTP ${err.status}` : ''})`;
  }
  return err instanceof Error ? err.message : String(err);
}
