import { Agent, request, type ClientRequestArgs } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';

/** Opens a CONNECT tunnel over the proxy's Unix socket; answers the socket, or the refusal text. */
export function openTunnel(
  socketPath: string,
  authority: string,
): Promise<{ socket: Socket } | { refused: string }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(socketPath);
    let buffered = '';
    socket.on('error', reject);
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeListener('data', onData);
      if (/^HTTP\/1\.1 200 /.test(buffered)) {
        socket.removeListener('error', reject);
        resolve({ socket });
        return;
      }
      socket.on('data', (more: Buffer) => (buffered += more.toString('latin1')));
      socket.on('close', () => resolve({ refused: buffered }));
    };
    socket.on('data', onData);
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

/** TLS over an open tunnel, trusting only `ca`; answers the socket or the handshake error. */
export function startTls(socket: Socket, servername: string, ca: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, servername, ca, ALPNProtocols: ['http/1.1'] });
    tls.once('secureConnect', () => resolve(tls));
    tls.once('error', reject);
  });
}

/** The certificate a TLS server presents through the tunnel, without verifying it. */
export function peerCertificate(socket: Socket, servername: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, servername, rejectUnauthorized: false });
    tls.once('secureConnect', () => {
      resolve(tls.getPeerCertificate());
      tls.destroy();
    });
    tls.once('error', reject);
  });
}

/** Sends every request over one TLS connection, in order (a reused connection). */
class OneConnectionAgent extends Agent {
  constructor(private readonly tls: TLSSocket) {
    super({ keepAlive: true, maxSockets: 1 });
  }
  override createConnection(_o: ClientRequestArgs): Duplex {
    return this.tls;
  }
}

export interface TlsReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A client that speaks HTTP/1.1 over one terminated tunnel, as curl or git would. */
export class TunnelSession {
  private readonly agent: OneConnectionAgent;

  constructor(
    readonly tls: TLSSocket,
    private readonly host: string,
  ) {
    this.agent = new OneConnectionAgent(tls);
  }

  fetch(path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<TlsReply> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          method: body ? 'POST' : 'GET',
          path,
          headers: { Host: this.host, ...headers },
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Downloads `path` and answers how many body bytes arrived (nothing kept in memory). */
  fetchBytes(path: string, headers: Record<string, string> = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(
        { path, headers: { Host: this.host, ...headers }, agent: this.agent },
        (res) => {
          let bytes = 0;
          res.on('data', (c: Buffer) => (bytes += c.length));
          res.on('end', () => resolve(bytes));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
    this.tls.destroy();
  }
}
