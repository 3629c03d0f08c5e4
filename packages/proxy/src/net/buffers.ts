/**
 * How many bytes each stream the proxy relays through holds before it pushes back on its source:
 * the sockets toward the container and upstream (plain and TLS), the HTTP messages on them and
 * the response scrubber. A socket read delivers up to 64 KiB; with Node 20's default of 16 KiB a
 * relayed body paused its source after almost every read and resumed it on the next drain, which
 * cost more than the bytes themselves. At 64 KiB a read passes through whole (128 and 256 KiB
 * measure worse). Node 22 and later default to 64 KiB; stating it keeps it on Node 20. The cost
 * is bounded memory: at most this much waiting on each side of each connection.
 */
export const STREAM_HIGH_WATER_MARK = 64 * 1024;

/**
 * The option that sets it on a TLS socket. A TLS socket is a Duplex stream and takes it as one
 * (`new TLSSocket`, `tls.connect`), though Node's typings of their options leave it out.
 */
export interface StreamBuffering {
  readonly highWaterMark: number;
}

export const STREAM_BUFFERING: StreamBuffering = { highWaterMark: STREAM_HIGH_WATER_MARK };
