import { validateHeaderName, validateHeaderValue } from 'node:http';

/**
 * Why an upstream's status and headers cannot be written to the container, or null when they
 * can. Node's HTTP client accepts status lines and headers that `writeHead` refuses (a status
 * below 100, characters its writer will not send); a relay checks here first, so nothing the
 * upstream sends can throw out of a handler. A malformed reason phrase refuses the answer too,
 * although the phrase itself is never relayed (each status goes out with its standard phrase).
 */
export function unrelayableHead(
  status: number | undefined,
  reason: string | undefined,
  headers: readonly string[],
): string | null {
  if (status === undefined || !Number.isInteger(status) || status < 100 || status > 999)
    return `the upstream answered status ${String(status)}, which cannot be relayed`;
  if (reason !== undefined && !/^[\t\x20-\x7e\x80-\xff]*$/.test(reason))
    return 'the upstream answered a reason phrase with a control character';
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
