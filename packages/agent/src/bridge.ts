import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';

/**
 * The egress bridge: a loopback TCP port inside the container whose every connection is
 * relayed, byte for byte, to the host's credential proxy on the egress Unix socket. The
 * container has no network, so this is its only way out; the bridge adds nothing and decides
 * nothing (the host-side proxy does both).
 */
export interface EgressBridge {
  port: number;
  close(): Promise<void>;
}

export async function startEgressBridge(options: {
  port: number;
  socketPath: string;
  logger: Logger;
}): Promise<EgressBridge> {
  const { port, socketPath, logger } = options;
  const sockets = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (client) => {
    sockets.add(client);
    const upstream = createConnection(socketPath);
    sockets.add(upstream);
    const done = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    upstream.on('error', (err) => {
      logger.warn({ err: err.message }, 'egress socket unreachable');
      // Answer a plain HTTP error so a client sees why, rather than a reset.
      if (client.writable && client.bytesWritten === 0) {
        client.end(
          'HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: 27\r\n\r\negress socket unreachable\r\n',
        );
      }
      done();
    });
    client.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
