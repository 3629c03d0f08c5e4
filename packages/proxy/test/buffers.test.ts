import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAM_HIGH_WATER_MARK } from '../src/net/buffers.js';
import { ScrubStream } from '../src/secrets/scrub.js';
import { connectUpstreamTls, loadUpstreamTrust } from '../src/tls/trust.js';
import { makeTestCa, type TestCa } from '../../../test/support/test-ca.js';

/**
 * The streams of a terminated tunnel hold a whole socket read (64 KiB) before they push back:
 * with less, each stage pauses the one before it on almost every TLS record. Node's typings
 * leave the option out for TLS sockets, so these check it reaches every stream it is meant for.
 */
describe('the buffering of a terminated tunnel', () => {
  let testCa: TestCa;
  let secure: TlsServer;

  beforeAll(async () => {
    testCa = makeTestCa(['api.example']);
    secure = createTlsServer({ key: testCa.key, cert: testCa.cert }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
  });

  afterAll(() => {
    secure.close();
    testCa.remove();
  });

  it('holds one whole socket read (64 KiB)', () => {
    expect(STREAM_HIGH_WATER_MARK).toBe(64 * 1024);
  });

  it('applies to the verified TLS connection toward a secret host', async () => {
    const { port } = secure.address() as AddressInfo;
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise((r) => socket.once('connect', r));
    const tls = await connectUpstreamTls(
      socket,
      'api.example',
      port,
      await loadUpstreamTrust(testCa.caFile),
      5_000,
    );
    const marks = [tls.readableHighWaterMark, tls.writableHighWaterMark];
    tls.destroy();
    expect(marks).toEqual([STREAM_HIGH_WATER_MARK, STREAM_HIGH_WATER_MARK]);
  });

  it('applies to the response scrubber', () => {
    const scrub = new ScrubStream([]);
    expect([scrub.readableHighWaterMark, scrub.writableHighWaterMark]).toEqual([
      STREAM_HIGH_WATER_MARK,
      STREAM_HIGH_WATER_MARK,
    ]);
  });
});
