import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { query } from '@anthropic-ai/claude-agent-sdk';
import { pino } from 'pino';
import { startMockModel } from '../src/index.js';

const mock = await startMockModel({ logger: pino({ level: 'debug' }) });
const dir = mkdtempSync(join(tmpdir(), 'mm-'));
const file = join(dir, 'hello.txt');
const prompt = `please\nMOCK:{"tool":"Write","input":{"file_path":"${file}","content":"hi there"}}\nMOCK:{"tool":"Bash","input":{"command":"cat ${file}"}}\nMOCK:{"text":"all good"}`;
const t0 = Date.now();
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
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      CLAUDE_CONFIG_DIR: dir,
      ANTHROPIC_BASE_URL: mock.url,
      ANTHROPIC_API_KEY: 'test-key',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      IS_SANDBOX: '1',
    },
  },
})) {
  if (m.type === 'stream_event') continue;
  console.log(Date.now() - t0, JSON.stringify(m).slice(0, 600));
}
console.log('file:', readFileSync(file, 'utf8'));
for (const r of mock.requests)
  console.log(
    JSON.stringify({
      path: r.path,
      model: r.model,
      stream: r.stream,
      userText: r.userText?.slice(0, 200),
      keys: r.apiKeys,
    }),
  );
await mock.close();
