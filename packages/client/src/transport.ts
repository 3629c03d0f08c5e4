import { errorFromResponse, unreachable } from './errors.js';

export interface RequestOptions {
  signal?: AbortSignal;
}

/** Which page of a list: `cursor` is the previous page's `nextCursor`; `limit` 1-1000 (host default 100). */
export interface PageOptions extends RequestOptions {
  limit?: number;
  cursor?: string;
}

/** One page of a list; `nextCursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Bytes for an upload: whatever fetch takes as a body (a stream is sent as it is read). */
export type UploadBody = string | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array>;

export type Query = Record<string, string | undefined>;

/** Where a client sends its requests, and how. */
export interface TransportOptions {
  /** Where the host listens, e.g. `http://127.0.0.1:8080`; empty for the page's own origin (browsers). */
  baseUrl?: string;
  /** An API token (`WORKCELL_API_TOKENS`); sent as `Authorization: Bearer`. */
  token?: string;
  /** The fetch to use; the global one by default. */
  fetch?: typeof fetch;
}

/**
 * The requests under every call of the client: URLs with their query, the bearer token, JSON
 * and raw bodies, errors from non-2xx answers, and lists read a page at a time.
 */
export class Transport {
  readonly baseUrl: string;
  protected readonly token: string | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(options: TransportOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.token = options.token;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  protected url(path: string, query?: Query): string {
    let url = `${this.baseUrl}${path}`;
    const entries = Object.entries(query ?? {}).filter(
      (e): e is [string, string] => e[1] !== undefined,
    );
    if (entries.length > 0) url += `?${new URLSearchParams(entries).toString()}`;
    return url;
  }

  /** Sends a request and answers the response, whatever its status (network failures throw). */
  async raw(
    method: string,
    path: string,
    init: {
      query?: Query;
      json?: unknown;
      body?: UploadBody;
      headers?: Record<string, string>;
      signal?: AbortSignal;
    } = {},
  ): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token) headers.set('authorization', `Bearer ${this.token}`);
    let body: RequestInit['body'];
    if (init.json !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(init.json);
    } else if (init.body !== undefined) {
      if (!headers.has('content-type')) headers.set('content-type', 'application/octet-stream');
      body = init.body as RequestInit['body'];
    }
    const url = this.url(path, init.query);
    const request: RequestInit & { duplex?: 'half' } = { method, headers };
    if (body !== undefined) request.body = body;
    if (init.signal) request.signal = init.signal;
    // A stream body needs half-duplex mode in fetch (Node requires it to be said).
    if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream)
      request.duplex = 'half';
    try {
      return await this.fetchImpl(url, request);
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw unreachable(url, err);
    }
  }

  /** Sends a request; a non-2xx answer throws; answers the JSON body (undefined when empty). */
  protected async call<T>(
    method: string,
    path: string,
    init: Parameters<Transport['raw']>[2] = {},
    okStatuses: readonly number[] = [],
  ): Promise<T> {
    const res = await this.raw(method, path, init);
    if (!res.ok && !okStatuses.includes(res.status)) throw await errorFromResponse(res);
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** One page of the list at `path`, its items under `field`. */
  protected async page<T>(
    path: string,
    field: string,
    o: PageOptions,
    query: Query = {},
  ): Promise<Page<T>> {
    const body = await this.call<Record<string, unknown>>('GET', path, {
      query: {
        ...query,
        limit: o.limit === undefined ? undefined : String(o.limit),
        cursor: o.cursor,
      },
      signal: o.signal,
    });
    return {
      items: (body[field] ?? []) as T[],
      nextCursor: (body.nextCursor as string | null | undefined) ?? null,
    };
  }

  /** Every item of the list at `path`, page after page, as they are needed. */
  protected async *iterate<T>(
    path: string,
    field: string,
    o: Omit<PageOptions, 'cursor'>,
    query: Query = {},
  ): AsyncGenerator<T> {
    let cursor: string | undefined;
    do {
      const page: Page<T> = await this.page<T>(path, field, { ...o, cursor }, query);
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  protected async all<T>(
    path: string,
    field: string,
    o: RequestOptions,
    query: Query = {},
  ): Promise<T[]> {
    const out: T[] = [];
    for await (const item of this.iterate<T>(path, field, { signal: o.signal, limit: 1000 }, query))
      out.push(item);
    return out;
  }
}
