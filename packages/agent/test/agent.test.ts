import { AGENT_MAX_BODY_ENV } from '@workcell/protocol';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startEgressBridge } from '../src/bridge.js';
import { AgentRunner } from '../src/runner.js';
import { readAgentSettings, sdkEnvironment } from '../src/sdk-env.js';
import { startAgentServer } from '../src/server.js';
import { ReadyAgents } from '../src/ready.js';
import { freePort } from '../../../test/support/free-port.js';

const logger = pino({ level: 'silent' });
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'wc-agent-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function call(
  socketPath: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, method, path, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('egress bridge', () => {
  it('relays bytes both ways between its loopback port and the egress socket', async () => {
    const dir = tmp();
    const socketPath = join(dir, 'egress.sock');
    const upstream = createServer((s) =>
      s.on('data', (d) => s.write(Buffer.concat([Buffer.from('echo:'), d]))),
    );
    await new Promise<void>((r) => upstream.listen(socketPath, r));
    const port = await freePort();
    const real = await startEgressBridge({ port, socketPath, logger });
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const c = connect(port, '127.0.0.1', () => c.write('ping'));
        c.on('data', (d) => {
          resolve(d.toString());
          c.destroy();
        });
        c.on('error', reject);
      });
      expect(reply).toBe('echo:ping');
    } finally {
      await real.close();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });

  it('delivers every byte when the upstream ends while the client is still reading', async () => {
    const dir = tmp();
    const socketPath = join(dir, 'egress.sock');
    const payload = Buffer.alloc(8 * 1024 * 1024, 'z');
    const upstream = createServer((s) => s.end(payload));
    await new Promise<void>((r) => upstream.listen(socketPath, r));
    const port = await freePort();
    const bridge = await startEgressBridge({ port, socketPath, logger });
    try {
      const received = await new Promise<number>((resolve, reject) => {
        let size = 0;
        const c = connect(port, '127.0.0.1');
        c.pause();
        // Read slowly at first so bytes queue up inside the bridge after the upstream has ended.
        setTimeout(() => c.resume(), 500);
        c.on('data', (d: Buffer) => (size += d.length));
        c.on('close', () => resolve(size));
        c.on('error', reject);
      });
      expect(received).toBe(payload.length);
    } finally {
      await bridge.close();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });

  it('keeps answering after the client half-closes its side', async () => {
    const dir = tmp();
    const socketPath = join(dir, 'egress.sock');
    // The upstream answers only once the request is complete (its end arrived).
    const upstream = createServer({ allowHalfOpen: true }, (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => setTimeout(() => s.end(`got:${Buffer.concat(chunks).toString()}`), 50));
    });
    await new Promise<void>((r) => upstream.listen(socketPath, r));
    const port = await freePort();
    const bridge = await startEgressBridge({ port, socketPath, logger });
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        let text = '';
        const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => c.end('request'));
        c.on('data', (d: Buffer) => (text += d.toString()));
        c.on('end', () => resolve(text));
        c.on('error', reject);
      });
      expect(reply).toBe('got:request');
    } finally {
      await bridge.close();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });

  it('answers 502 when the egress socket is missing', async () => {
    const dir = tmp();
    const port = await freePort();
    const bridge = await startEgressBridge({ port, socketPath: join(dir, 'missing.sock'), logger });
    try {
      const reply = await new Promise<string>((resolve) => {
        let text = '';
        const c = connect(port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
        c.on('data', (d) => (text += d.toString()));
        c.on('close', () => resolve(text));
      });
      expect(reply).toMatch(/^HTTP\/1.1 502/);
    } finally {
      await bridge.close();
    }
  });
});

describe('agent API', () => {
  async function start(): Promise<{ server: Server; socketPath: string; runner: AgentRunner }> {
    const dir = tmp();
    const socketPath = join(dir, 'agent.sock');
    const settings = readAgentSettings({ [AGENT_MAX_BODY_ENV]: '4096' });
    const ready = new ReadyAgents(
      settings,
      { enabled: false, idleMs: 1000, poolOptions: null },
      logger,
    );
    const runner = new AgentRunner(settings, logger, ready);
    const server = await startAgentServer({
      socketPath,
      runner,
      version: 'test',
      logger,
      maxBodyBytes: settings.maxBodyBytes,
    });
    return { server, socketPath, runner };
  }

  it('answers health', async () => {
    const { server, socketPath } = await start();
    try {
      const res = await call(socketPath, 'GET', '/health');
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text)).toMatchObject({
        status: 'ok',
        busy: false,
        runId: null,
        version: 'test',
      });
    } finally {
      server.close();
    }
  });

  it('refuses malformed JSON, invalid run requests and unknown routes with codes', async () => {
    const { server, socketPath } = await start();
    try {
      const bad = await call(socketPath, 'POST', '/runs', '{"runId": ');
      expect(bad.status).toBe(400);
      expect(JSON.parse(bad.text).error.code).toBe('invalid_json');
      const invalid = await call(
        socketPath,
        'POST',
        '/runs',
        JSON.stringify({ runId: 'r1', prompt: '', extra: 1 }),
      );
      expect(invalid.status).toBe(400);
      expect(JSON.parse(invalid.text).error.code).toBe('validation_failed');
      const unknown = await call(socketPath, 'GET', '/nope');
      expect(unknown.status).toBe(404);
      const interrupt = await call(socketPath, 'POST', '/runs/nothing/interrupt');
      expect(interrupt.status).toBe(404);
    } finally {
      server.close();
    }
  });

  it('refuses a body over the limit the host sets with payload_too_large', async () => {
    const { server, socketPath } = await start();
    try {
      const over = await call(
        socketPath,
        'POST',
        '/runs',
        JSON.stringify({ runId: 'r1', prompt: 'x'.repeat(5000) }),
      );
      expect(over.status).toBe(413);
      expect(JSON.parse(over.text).error.code).toBe('payload_too_large');
    } finally {
      server.close();
    }
  });

  it('refuses a second concurrent run with agent_busy', async () => {
    const { server, socketPath, runner } = await start();
    try {
      runner.begin({ runId: 'first', prompt: 'hello' });
      const res = await call(
        socketPath,
        'POST',
        '/runs',
        JSON.stringify({ runId: 'second', prompt: 'hello' }),
      );
      expect(res.status).toBe(409);
      expect(JSON.parse(res.text).error.code).toBe('agent_busy');
      const health = JSON.parse((await call(socketPath, 'GET', '/health')).text);
      expect(health).toMatchObject({ busy: true, runId: 'first' });
    } finally {
      server.close();
    }
  });
});

describe('SDK environment', () => {
  it('sends Anthropic traffic to the bridge and carries no credential', () => {
    const env = sdkEnvironment(readAgentSettings({}), '/usr/bin:/bin');
    expect(env.ANTHROPIC_BASE_URL).toBe('http://127.0.0.1:3128/_workcell/anthropic');
    expect(env.ANTHROPIC_API_KEY).toBe('workcell-proxy-adds-the-key');
    expect(env.CLAUDE_CODE_USE_BEDROCK).toBeUndefined();
    expect(env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).toBe('1');
  });

  it('uses the Bedrock route with SDK-side auth skipped in bedrock mode', () => {
    const env = sdkEnvironment(
      readAgentSettings({ WORKCELL_MODEL_PROVIDER: 'bedrock', AWS_REGION: 'eu-west-1' }),
      '/usr/bin',
    );
    expect(env).toMatchObject({
      CLAUDE_CODE_USE_BEDROCK: '1',
      CLAUDE_CODE_SKIP_BEDROCK_AUTH: '1',
      AWS_REGION: 'eu-west-1',
      ANTHROPIC_BEDROCK_BASE_URL: 'http://127.0.0.1:3128/_workcell/bedrock',
    });
    expect(env.ANTHROPIC_API_KEY).toBeUndefined();
    expect(
      Object.keys(env).some((k) => k.startsWith('AWS_SECRET') || k === 'AWS_ACCESS_KEY_ID'),
    ).toBe(false);
  });
});
