import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { query } from '@anthropic-ai/claude-agent-sdk';
import { startMockModel } from '../src/index.js';

const mock = await startMockModel();
let n = 0;
const relay = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  n += 1;
  writeFileSync(
    `/tmp/cap-${process.env.MODE}-${n}.json`,
    JSON.stringify(
      { method: req.method, url: req.url, headers: req.headers, body: body.toString() },
      null,
      1,
    ),
  );
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (typeof v === 'string' && k !== 'content-length' && k !== 'connection') headers[k] = v;
  const r = await fetch(mock.url + req.url, {
    method: req.method,
    headers,
    body: req.method === 'GET' ? undefined : body,
  });
  res.writeHead(r.status, Object.fromEntries(r.headers));
  if (r.body) Readable.fromWeb(r.body as never).pipe(res);
  else res.end();
});
await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
const port = (relay.address() as { port: number }).port;
const dir = mkdtempSync(join(tmpdir(), 'mm-'));
const bedrock = process.env.MODE === 'bedrock';
const prompt =
  process.env.PROMPT ??
  `hello\nMOCK:{"tool":"Write","input":{"file_path":"${join(dir, 'a.txt')}","content":"x"}}`;
const env: Record<string, string | undefined> = {
  PATH: process.env.PATH,
  HOME: dir,
  CLAUDE_CONFIG_DIR: dir,
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  IS_SANDBOX: '1',
};
if (bedrock)
  Object.assign(env, {
    CLAUDE_CODE_USE_BEDROCK: '1',
    AWS_REGION: 'us-east-1',
    ANTHROPIC_BEDROCK_BASE_URL: `http://127.0.0.1:${port}`,
    CLAUDE_CODE_SKIP_BEDROCK_AUTH: '1',
  });
else
  Object.assign(env, {
    ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}`,
    ANTHROPIC_API_KEY: 'test-key',
  });
for await (const m of query({
  prompt,
  options: {
    cwd: dir,
    permissionMode: 'bypassPermissions',
    allowDangerouslySkipPermissions: true,
    includePartialMessages: true,
    pathToClaudeCodeExecutable:
      '/work/main/node_modules/@anthropic-ai/claude-agent-sdk-linux-x64/claude',
    stderr: (d: string) => process.stderr.write('STDERR ' + d),
    env,
  },
})) {
  if (m.type === 'stream_event') continue;
  console.log(JSON.stringify(m).slice(0, 400));
}
for (const r of mock.requests)
  console.log(
    JSON.stringify({ path: r.path, model: r.model, stream: r.stream, status: r.signatureValid }),
  );
relay.close();
await mock.close();
