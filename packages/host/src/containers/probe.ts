import { connect } from 'node:net';

/**
 * Answers whether a process accepts connections on the Unix socket at `path`. A container's
 * egress socket answers exactly while some live host holds its listener; a socket file left by
 * a host that died refuses (ECONNREFUSED), a missing one fails with ENOENT.
 */
export function socketListening(path: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = (listening: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(listening);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
