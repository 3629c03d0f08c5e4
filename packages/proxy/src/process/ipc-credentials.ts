import type { AwsCredentials, AwsCredentialsProvider } from '../bedrock/signer.js';

/** Credentials without an expiry are asked for again after this long (a rotated key applies). */
const UNDATED_TTL_MS = 60_000;
/** Credentials with an expiry are asked for again this long before it. */
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;

/**
 * AWS credentials asked of the host over IPC (`ask`), cached until shortly before they expire,
 * so the proxy process needs no AWS variable, file or instance role of its own. Concurrent
 * callers share one question.
 */
export function ipcCredentials(
  ask: () => Promise<AwsCredentials>,
  now: () => number = Date.now,
): AwsCredentialsProvider {
  let cached: { credentials: AwsCredentials; freshUntil: number } | null = null;
  let pending: Promise<AwsCredentials> | null = null;
  return () => {
    if (cached && now() < cached.freshUntil) return Promise.resolve(cached.credentials);
    pending ??= ask()
      .then((credentials) => {
        const expires = credentials.expiration?.getTime();
        cached = {
          credentials,
          freshUntil:
            expires === undefined
              ? now() + UNDATED_TTL_MS
              : Math.max(now(), expires - REFRESH_BEFORE_EXPIRY_MS),
        };
        return credentials;
      })
      .finally(() => {
        pending = null;
      });
    return pending;
  };
}
