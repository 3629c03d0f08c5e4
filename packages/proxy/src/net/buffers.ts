/**
 * How many bytes each stream of a terminated tunnel holds before it pushes back on its source:
 * both TLS sockets (and so the HTTP messages inside the tunnel) and the response scrubber. A TLS
 * socket delivers a record (up to 16 KiB) at a time; with Node 20's default of 16 KiB the
 * decrypt, scrub and encrypt stages stopped and restarted one another on almost every record.
 * At 64 KiB one socket read passes through whole: half the system calls and context switches
 * (128 and 256 KiB measure worse). Node 22 and later default to 64 KiB; stating it keeps it on
 * Node 20. The cost is bounded memory: at most this much waiting on each side of each tunnel.
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
