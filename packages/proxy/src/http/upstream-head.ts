import { validateHeaderName, validateHeaderValue } from 'node:http';

/**
 * Why an upstream's status and headers cannot be written to the container, or null when they
 * can. Node's HTTP client accepts status lines and headers that `writeHead` refuses (a status
 * below 100, characters its writer will not send); a relay checks here first, so nothing the
 * upstream sends can throw out of a handler. The reason phrase is never relayed (each status
 * goes out with its standard phrase), so it needs no check.
 */
export function unrelayableHead(
  status: number | undefined,
  headers: readonly string[],
): string | null {
  if (status === undefined || !Number.isInteger(status) || status < 100 || status > 999)
    return `the upstream answered status ${String(status)}, which cannot be relayed`;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] ?? '';
    try {
      validateHeaderName(name);
      validateHeaderValue(name, headers[i + 1] ?? '');
    } catch {
      return 'the upstream answered a header that cannot be relayed';
    }
  }
  return null;
}
