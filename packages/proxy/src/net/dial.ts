import { connect, type Socket } from 'node:net';
import type { IpAddress } from './ip.js';

export interface Dialed {
  readonly socket: Socket;
  readonly address: IpAddress;
}

function dialOne(address: IpAddress, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // An IP literal host makes net.connect skip name resolution: the checked address is dialed.
    const socket = connect({ host: address.text, port, family: address.family, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('connect timed out'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Connects to the first of the checked addresses that answers, in order. */
export async function dialChecked(
  addresses: readonly IpAddress[],
  port: number,
  timeoutMs: number,
): Promise<Dialed> {
  let last: unknown = new Error('no address to dial');
  for (const address of addresses) {
    try {
      return { socket: await dialOne(address, port, timeoutMs), address };
    } catch (err) {
      last = err;
    }
  }
  throw last;
}
