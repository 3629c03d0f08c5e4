import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** A small MCP server for tests, built with the official TypeScript SDK. */
export interface TestMcpServer {
  /** `http://<address>:<port>`. */
  origin: string;
  host: string;
  port: number;
  /** Every JSON-RPC method received, in order (`tools/call`, ...). */
  methods: string[];
  close(): Promise<void>;
}

/** One MCP server with a `stamp` tool that answers `STAMPED:<word>`. */
function stampServer(): McpServer {
  const server = new McpServer({ name: 'team-tools', version: '1.0.0' });
  server.registerTool(
    'stamp',
    { description: 'Stamps a word.', inputSchema: { word: z.string() } },
    async ({ word }) => ({ content: [{ type: 'text', text: `STAMPED:${word}` }] }),
  );
  return server;
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length > 0
    ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown)
    : undefined;
}

/**
 * Serves streamable HTTP on `/mcp` (stateless: a server per request) and the older SSE
 * transport on `/sse` + `/messages`, on `host` (a loopback address other than 127.0.0.1, which
 * the container's proxy settings leave out, so requests go through the proxy).
 */
export async function startMcpServer(host = '127.0.0.2'): Promise<TestMcpServer> {
  const methods: string[] = [];
  const sessions = new Map<string, SSEServerTransport>();
  const http: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://mcp');
      if (url.pathname === '/mcp') {
        const body = await jsonBody(req);
        const method = (body as { method?: string } | undefined)?.method;
        if (method) methods.push(method);
        const server = stampServer();
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
        res.on('close', () => {
          void transport.close();
          void server.close();
        });
        await server.connect(transport);
        await transport.handleRequest(req, res, body);
      } else if (url.pathname === '/sse' && req.method === 'GET') {
        const transport = new SSEServerTransport('/messages', res);
        sessions.set(transport.sessionId, transport);
        res.on('close', () => sessions.delete(transport.sessionId));
        await stampServer().connect(transport);
      } else if (url.pathname === '/messages' && req.method === 'POST') {
        const transport = sessions.get(url.searchParams.get('sessionId') ?? '');
        const body = await jsonBody(req);
        const method = (body as { method?: string } | undefined)?.method;
        if (method) methods.push(`sse:${method}`);
        if (!transport) res.writeHead(404).end();
        else await transport.handlePostMessage(req, res, body);
      } else {
        res.writeHead(404).end();
      }
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, host, resolve));
  const { port } = http.address() as AddressInfo;
  return {
    origin: `http://${host}:${port}`,
    host,
    port,
    methods,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
