/**
 * Header lines a request may carry. Node's parser keeps at most `maxHeadersCount` of them in
 * `rawHeaders` yet still frames the body by a later `Transfer-Encoding`, so every listener sets
 * `maxHeadersCount` to this plus one and refuses any request that reaches it: the framing
 * check then always reads the whole list the parser framed by.
 */
export const DEFAULT_MAX_HEADER_COUNT = 100;

/**
 * What one workspace may hold of the proxy at once, and how long a quiet peer keeps what it
 * holds. Each listener (one container) has its own connection and tunnel caps; buffered bodies
 * share one host-wide budget.
 */
export interface ProxyLimits {
  /** Header lines a request may carry; more answers 431. */
  readonly maxHeaderCount: number;
  /** Concurrent connections on one listener; more are answered 503 and closed. */
  readonly maxConnectionsPerListener: number;
  /** Concurrent CONNECT tunnels on one listener; more answer 503. */
  readonly maxTunnelsPerListener: number;
  /** A tunnel with no byte in either direction for this long is closed. */
  readonly tunnelIdleTimeoutMs: number;
  /** Time to receive a request's headers. */
  readonly headersTimeoutMs: number;
  /** Time to receive a whole request, body included. */
  readonly requestTimeoutMs: number;
  /** Request bytes buffered in memory across every listener; past it, 503 with Retry-After. */
  readonly maxBufferedBodyBytes: number;
  /**
   * The largest request body a secret's value is written into (read whole, from the same
   * budget); a larger one answers 413 `body-too-large` and is not sent.
   */
  readonly maxSecretBodyBytes: number;
}

export const DEFAULT_LIMITS: ProxyLimits = {
  maxHeaderCount: DEFAULT_MAX_HEADER_COUNT,
  maxConnectionsPerListener: 64,
  maxTunnelsPerListener: 32,
  tunnelIdleTimeoutMs: 300_000,
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 120_000,
  maxBufferedBodyBytes: 256 * 1024 * 1024,
  maxSecretBodyBytes: 8 * 1024 * 1024,
};

/** Seconds a client is told to wait after a 503 for a limit. */
export const RETRY_AFTER_SECONDS = 1;
