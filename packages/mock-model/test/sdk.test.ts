/**
 * The real Claude Agent SDK (its native `claude` binary) against the mock, run locally: full
 * turns with tool calls over the Anthropic API and over Bedrock through a SigV4 signing relay.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  query,
  type Options,
  type SDKMessage,
  type SDKResultMessage,
} from '@anthropic-ai/claude-agent-sdk';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startMockModel, type BedrockVerification, type MockModel } from '../src/index.js';
import { captureLogs } from './helpers.js';

const CLAUDE_BINARY = fileURLToPath(
  new URL('../../../node_modules/@anthropic-ai/claude-agent-sdk-linux-x64/claude', import.meta.url),
);
const BEDROCK: BedrockVerification = {
  region: 'us-east-1',
  credentials: {
    accessKeyId: 'AKIDSDKTEST',
    secretAccessKey: 'sdk-test-secret',
    sessionToken: 'sdk-session',
  },
};
/** An inference-profile ARN: its ':' and '/' make the path encoding matter for the signature. */
const BEDROCK_MODEL =
  'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-v1:0';

let dir: string;
let mock: MockModel | undefined;
let relay: Server | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'workcell-mock-sdk-'));
});

afterEach(async () => {
  relay?.closeAllConnections();
  relay?.close();
  relay = undefined;
  await mock?.close();
  mock = undefined;
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  messages: SDKMessage[];
  result: SDKResultMessage;
}

/** The SDK options every run here uses: a throwaway cwd and config dir, the local binary. */
function sdkOptions(env: Record<string, string>, extra: Options = {}): Options {
  return {
    cwd: dir,
    permissionMode: 'bypassPermissions',
    allowDangerouslySkipPermissions: true,
    includePartialMessages: true,
    pathToClaudeCodeExecutable: CLAUDE_BINARY,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      CLAUDE_CONFIG_DIR: dir,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      IS_SANDBOX: '1',
      ...env,
    },
    ...extra,
  };
}

async function runSdk(prompt: string, env: Record<string, string>, resume?: string): Promise<Run> {
  const messages: SDKMessage[] = [];
  const stderr: string[] = [];
  const options = sdkOptions(env, { resume, stderr: (data) => stderr.push(data) });
  for await (const message of query({ prompt, options })) messages.push(message);
  const result = messages.find((m): m is SDKResultMessage => m.type === 'result');
  if (!result) throw new Error(`the SDK ended without a result; stderr: ${stderr.join('')}`);
  return { messages, result };
}

function anthropicEnv(target: MockModel): Record<string, string> {
  return { ANTHROPIC_BASE_URL: target.url, ANTHROPIC_API_KEY: 'test-key' };
}

function resultText(result: SDKResultMessage): string {
  return result.subtype === 'success' ? result.result : `(${result.subtype})`;
}

/** Hop-by-hop and client-auth headers the relay does not forward (as the credential proxy). */
const DROPPED_HEADERS = new Set([
  'authorization',
  'x-api-key',
  'connection',
  'content-length',
  'host',
]);

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A tiny stand-in for the credential proxy's Bedrock route: it signs each request with
 * @smithy/signature-v4 over the path exactly as received and forwards it to the mock.
 */
async function startSigningRelay(target: MockModel): Promise<string> {
  const signer = new SignatureV4({
    credentials: BEDROCK.credentials,
    region: BEDROCK.region,
    service: 'bedrock',
    sha256: Sha256,
  });
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readAll(req);
      const rawPath = req.url ?? '/';
      const queryAt = rawPath.indexOf('?');
      const path = queryAt === -1 ? rawPath : rawPath.slice(0, queryAt);
      const query = Object.fromEntries(
        new URLSearchParams(queryAt === -1 ? '' : rawPath.slice(queryAt + 1)),
      );
      const headers: Record<string, string> = { host: `127.0.0.1:${target.port}` };
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && !DROPPED_HEADERS.has(name)) headers[name] = value;
      }
      const signed = await signer.sign(
        new HttpRequest({
          method: req.method ?? 'GET',
          hostname: '127.0.0.1',
          port: target.port,
          path,
          query,
          headers,
          body,
        }),
      );
      const upstream = httpRequest(
        {
          host: '127.0.0.1',
          port: target.port,
          method: req.method,
          path: rawPath,
          headers: signed.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    })().catch(() => res.destroy());
  });
  relay = server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('the Claude Agent SDK against the mock', () => {
  it('completes a turn that writes a file with the Write tool, then answers', async () => {
    mock = await startMockModel();
    const file = join(dir, 'out', 'hello.txt');
    const prompt = [
      'Write the greeting.',
      `MOCK:{"tool": "Write", "input": {"file_path": ${JSON.stringify(file)}, "content": "hello from the mock"}}`,
      'MOCK:{"text": "The file is written."}',
    ].join('\n');
    const { messages, result } = await runSdk(prompt, anthropicEnv(mock));

    expect(result.subtype).toBe('success');
    expect(resultText(result)).toBe('The file is written.');
    expect(await readFile(file, 'utf8')).toBe('hello from the mock');
    expect(result.num_turns).toBe(2);
    expect(result.usage.input_tokens).toBeGreaterThan(0);
    expect(result.usage.output_tokens).toBeGreaterThan(0);
    expect(messages.some((m) => m.type === 'stream_event')).toBe(true);
    const models = mock.requests.filter((r) => r.path.startsWith('/v1/messages'));
    expect(models.length).toBeGreaterThanOrEqual(2);
    expect(mock.requests.every((r) => r.apiKeys.length === 1 && r.apiKeys[0] === 'test-key')).toBe(
      true,
    );
  });

  it('resumes a session with its history: the second prompt sees one prior user turn', async () => {
    mock = await startMockModel();
    const first = await runSdk('MOCK:{"text": "first answer"}', anthropicEnv(mock));
    expect(resultText(first.result)).toBe('first answer');

    const second = await runSdk(
      'MOCK:{"report": "turns"}',
      anthropicEnv(mock),
      first.result.session_id,
    );
    const init = second.messages.find((m) => m.type === 'system' && m.subtype === 'init');
    expect(init?.session_id).toBe(first.result.session_id);
    expect(resultText(second.result)).toBe('prior_user_turns=1');
  });

  it('stops a sleeping reply when the SDK interrupts the turn', async () => {
    const { logger, lines: logs } = captureLogs();
    mock = await startMockModel({ logger });
    const turn = query({
      prompt: 'MOCK:{"sleep_ms": 10000}\nMOCK:{"text": "too late"}',
      options: sdkOptions(anthropicEnv(mock)),
    });
    let interruptedAt = 0;
    const texts: string[] = [];
    try {
      for await (const message of turn) {
        if (message.type === 'stream_event' && interruptedAt === 0) {
          interruptedAt = Date.now();
          await turn.interrupt();
        }
        if (message.type === 'assistant') texts.push(JSON.stringify(message.message.content));
      }
    } catch {
      // The SDK ends an interrupted turn with an error result; the mock's side is what matters.
    }
    expect(interruptedAt).toBeGreaterThan(0);
    await vi.waitFor(() => expect(logs.some((line) => line.includes('client left'))).toBe(true), {
      timeout: 3000,
    });
    expect(Date.now() - interruptedAt).toBeLessThan(5000);
    expect(texts.join('')).not.toContain('too late');
  });

  it('completes a tool turn over Bedrock with every request SigV4-verified', async () => {
    mock = await startMockModel({ bedrock: BEDROCK });
    const relayUrl = await startSigningRelay(mock);
    const file = join(dir, 'bedrock.txt');
    const prompt = [
      `MOCK:{"tool": "Write", "input": {"file_path": ${JSON.stringify(file)}, "content": "via bedrock"}}`,
      'MOCK:{"text": "bedrock done"}',
    ].join('\n');
    const { result } = await runSdk(prompt, {
      CLAUDE_CODE_USE_BEDROCK: '1',
      AWS_REGION: BEDROCK.region,
      ANTHROPIC_BEDROCK_BASE_URL: relayUrl,
      CLAUDE_CODE_SKIP_BEDROCK_AUTH: '1',
      ANTHROPIC_MODEL: BEDROCK_MODEL,
    });

    expect(result.subtype).toBe('success');
    expect(resultText(result)).toBe('bedrock done');
    expect(await readFile(file, 'utf8')).toBe('via bedrock');
    const invocations = mock.requests.filter((r) =>
      r.path.endsWith('/invoke-with-response-stream'),
    );
    expect(invocations.length).toBeGreaterThanOrEqual(2);
    // The CLI keeps ':' as is and encodes the ARN's '/' as %2F; the signature covers that path.
    expect(invocations.every((r) => r.model === BEDROCK_MODEL && r.path.includes('%2F'))).toBe(
      true,
    );
    expect(mock.requests.every((r) => r.api === 'bedrock' && r.signatureValid === true)).toBe(true);
  });
});
