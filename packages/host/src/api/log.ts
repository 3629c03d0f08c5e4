/** Query parameters whose values never reach a log line. */
const SECRET_PARAMS = ['access_token', 'ticket'];

/** The URL with the value of every secret query parameter replaced. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = decodeName(eq < 0 ? pair : pair.slice(0, eq));
      return SECRET_PARAMS.includes(name)
        ? `${pair.slice(0, eq < 0 ? pair.length : eq)}=[redacted]`
        : pair;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

/** What Fastify logs of a request; the same fields as its default serializer, with the URL redacted. */
export function serializeRequest(req: {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number } | null;
}): Record<string, unknown> {
  return {
    method: req.method,
    url: redactUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}
