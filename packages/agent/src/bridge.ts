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
  const server: Server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    const upstream = createConnection({ path: socketPath, allowHalfOpen: true });
    sockets.add(client);
    sockets.add(upstream);
    // Once the upstream is gone nothing more can go anywhere: finish writing, then close.
    const finishClient = (data?: string): void => {
      if (client.destroyed || client.writableEnded) return;
      client.end(data ?? '', () => client.destroy());
    };
    upstream.on('error', (err) => {
      logger.warn({ err: err.message }, 'egress socket unreachable');
      // Answer a plain HTTP error so a client sees why, rather than a reset.
      const nothingSent = upstream.bytesRead === 0 && client.bytesWritten === 0;
      if (nothingSent) {
        finishClient(
          'HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: 27\r\n\r\negress socket unreachable\r\n',
        );
      } else {
        client.destroy();
      }
    });
    client.on('error', () => upstream.destroy());
    // Each direction ends on its own (pipe forwards the end once its bytes are written), so
    // nothing still queued for the client is lost when the upstream finishes first.
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      if (upstream.readableEnded) return; // the end is on its way through the pipe
      finishClient();
    });
    upstream.on('end', () => client.once('finish', () => client.destroy()));
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
