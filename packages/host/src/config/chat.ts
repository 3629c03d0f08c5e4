/** Where `workcell chat` connects when no flag says: the environment, then this host's own port. */
export interface ChatDefaults {
  url: string;
  token: string | undefined;
}

/**
 * `WORKCELL_URL` (else `http://<WORKCELL_HOST>:<WORKCELL_PORT>`, a wildcard host read as
 * loopback) and `WORKCELL_TOKEN`.
 */
export function chatDefaults(env: NodeJS.ProcessEnv = process.env): ChatDefaults {
  const listen = env.WORKCELL_HOST || '127.0.0.1';
  const host = listen === '0.0.0.0' || listen === '::' ? '127.0.0.1' : listen;
  const port = env.WORKCELL_PORT || '8080';
  return {
    url: env.WORKCELL_URL || `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    token: env.WORKCELL_TOKEN || undefined,
  };
}
