/**
 * The mock model's HTTP server (node:http): routes Anthropic and Bedrock requests, records
 * every request for tests, and answers unknown paths with a 404 in the API's error shape.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { handleCountTokens, handleMessages, sendAnthropicError } from './anthropic.js';
import {
  BEDROCK_PATH,
  INFERENCE_PROFILES_PATH,
  handleBedrock,
  handleListInferenceProfiles,
  isBedrockPath,
  sendBedrockError,
  type BedrockOperation,
} from './bedrock/routes.js';
import type { BedrockVerification } from './bedrock/signature.js';
import { headerValues, readBody } from './http.js';
import type { ReceivedRequest, RouteContext } from './route.js';

export interface MockModelOptions {
  /** The port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** The address to listen on; default 127.0.0.1. */
  host?: string;
  logger?: Logger;
  /** Bedrock endpoint verification: the credentials and region requests must be signed with. */
  bedrock?: BedrockVerification;
}

export interface MockModel {
  /** `http://<host>:<port>`, usable as ANTHROPIC_BASE_URL or a Bedrock base URL. */
  url: string;
  port: number;
  /** Every request received, in arrival order. */
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

function pathOf(target: string): string {
  const withoutOrigin = target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
  const query = withoutOrigin.indexOf('?');
  return query === -1 ? withoutOrigin : withoutOrigin.slice(0, query);
}

async function route(ctx: RouteContext, path: string, options: MockModelOptions): Promise<void> {
  const { req, res } = ctx;
  const bedrock = BEDROCK_PATH.exec(path);
  if (bedrock) {
    if (req.method !== 'POST') {
      sendBedrockError(
        res,
        405,
        'UnknownOperationException',
        `${req.method ?? ''} is not supported.`,
      );
      return;
    }
    await handleBedrock(ctx, bedrock[1] ?? '', bedrock[2] as BedrockOperation, options.bedrock);
    return;
  }
  if (req.method === 'GET' && path === INFERENCE_PROFILES_PATH) {
    handleListInferenceProfiles(ctx, options.bedrock);
    return;
  }
  if (isBedrockPath(path)) {
    sendBedrockError(
      res,
      404,
      'UnknownOperationException',
      `No operation matches ${req.method ?? ''} ${path}.`,
    );
    return;
  }
  if (req.method === 'POST' && path === '/v1/messages') {
    await handleMessages(ctx);
    return;
  }
  if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
    handleCountTokens(ctx);
    return;
  }
  sendAnthropicError(res, 404, 'not_found_error', `No route for ${req.method ?? ''} ${path}.`);
}

/**
 * Starts a mock Claude model speaking the Anthropic Messages API and Bedrock's runtime API,
 * answering from `MOCK:` directives in the latest user prompt.
 */
export async function startMockModel(options: MockModelOptions = {}): Promise<MockModel> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const host = options.host ?? '127.0.0.1';
  const requests: ReceivedRequest[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.url ?? '/';
    const path = pathOf(target);
    const body = await readBody(req);
    const record: ReceivedRequest = {
      api: isBedrockPath(path) ? 'bedrock' : 'anthropic',
      method: req.method ?? '',
      path: target,
      headers: { ...req.headers },
      apiKeys: headerValues(req, 'x-api-key'),
      authorization: headerValues(req, 'authorization'),
      signatureValid: null,
      stream: false,
      model: null,
      thinking: null,
      userText: null,
      at: Date.now(),
    };
    requests.push(record);
    const requestId = `req_mock_${randomBytes(8).toString('hex')}`;
    await route({ req, res, body, record, requestId, logger }, path, options);
    logger.debug(
      {
        method: record.method,
        path: target,
        status: res.statusCode,
        model: record.model,
        stream: record.stream,
        signatureValid: record.signatureValid,
        userText: record.userText,
      },
      'mock-model request',
    );
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error, path: req.url }, 'mock-model request failed');
      if (!res.headersSent) sendAnthropicError(res, 500, 'api_error', 'The mock model failed.');
      else res.destroy();
    });
  });
  server.listen(options.port ?? 0, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  logger.info(
    { port, host, bedrockVerification: options.bedrock !== undefined },
    'mock-model listening',
  );

  return {
    url: `http://${urlHost}:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
