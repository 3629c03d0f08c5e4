import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AgentSettings, RunEvent } from '@workcell/client';
import { resultOf, toolResults, workspaceWith } from '../agent/support.js';
import { dataOf, docker, startTestHost, type TestHost } from '../support/host.js';

/**
 * Approvals and client tools end to end: the real agent in the real container asks the host
 * before a tool call an `ask` rule matches, and calls the client's own tools; the mock model
 * behind the real credential proxy plays the model.
 */

const ASK_BASH: AgentSettings = { permissions: { ask: ['Bash'] } };

const LOOKUP_ORDER = {
  name: 'lookup_order',
  description: 'Looks up an order by its id.',
  inputSchema: {
    type: 'object',
    properties: { orderId: { type: 'string', description: 'the order id' } },
    required: ['orderId'],
  },
};

function bash(command: string): string {
  return `MOCK:${JSON.stringify({ tool: 'Bash', input: { command } })}`;
}

/** Sends a message and reads its run to the end, calling `onEvent` on each event as it comes. */
async function converse(
  host: TestHost,
  conversationId: string,
  content: string,
  onEvent: (event: RunEvent, runId: string) => Promise<void>,
  agent?: AgentSettings,
): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  let runId = '';
  const stream = host.wc.conversations.send(conversationId, content, agent ? { agent } : {});
  for await (const event of stream) {
    events.push(event);
    if (event.event === 'run.started') runId = event.data.runId;
    await onEvent(event, runId);
  }
  return events;
}

describe('approvals and client tools (real agent, real container)', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await startTestHost({});
  });

  afterAll(async () => {
    await host?.close();
  });

  it('an allowed call runs after the decision, and its approval is listed as allowed', async () => {
    const { workspaceId, conversationId } = await workspaceWith(host, ASK_BASH);
    let pendingSeen = false;
    const events = await converse(
      host,
      conversationId,
      bash('echo allowed > /workspace/allowed.txt'),
      async (event) => {
        if (event.event !== 'approval.requested') return;
        expect(event.data).toMatchObject({
          toolName: 'Bash',
          input: { command: 'echo allowed > /workspace/allowed.txt' },
        });
        expect(event.data.toolUseId).toMatch(/^toolu_/);
        const listed = await host.wc.approvals.list(conversationId);
        expect(listed).toEqual([
          expect.objectContaining({
            id: event.data.approvalId,
            status: 'pending',
            kind: 'approval',
          }),
        ]);
        pendingSeen = true;
        const decided = await host.wc.approvals.decide(conversationId, event.data.approvalId, {
          decision: 'allow',
        });
        expect(decided).toMatchObject({ status: 'allowed', reason: 'client' });
      },
    );
    expect(pendingSeen).toBe(true);
    expect(dataOf(events, 'approval.resolved')).toEqual([
      expect.objectContaining({ decision: 'allow', reason: 'client' }),
    ]);
    expect(resultOf(events)).toBe('done');
    expect(toolResults(events)).toEqual([expect.objectContaining({ isError: false })]);
    expect(await host.wc.files.text(workspaceId, 'allowed.txt')).toBe('allowed\n');
    const [approval] = await host.wc.approvals.list(conversationId);
    expect(approval).toMatchObject({ status: 'allowed', reason: 'client' });
    // The recorded history holds the same events.
    const history = await host.wc.conversations.history(conversationId);
    const names = history.runs[0]?.events.map((e) => e.event);
    expect(names).toContain('approval.requested');
    expect(names).toContain('approval.resolved');
  });

  it('a denied call does not run and the model is told, with the message', async () => {
    const { workspaceId, conversationId } = await workspaceWith(host, ASK_BASH);
    const events = await converse(
      host,
      conversationId,
      bash('echo no > /workspace/denied.txt'),
      async (event) => {
        if (event.event === 'approval.requested')
          await host.wc.approvals.decide(conversationId, event.data.approvalId, {
            decision: 'deny',
            message: 'not on a Friday',
          });
      },
    );
    expect(dataOf(events, 'approval.resolved')).toEqual([
      expect.objectContaining({ decision: 'deny', reason: 'client' }),
    ]);
    const [told] = toolResults(events);
    expect(told?.isError).toBe(true);
    expect(told?.text).toContain('not on a Friday');
    const files = await host.wc.files.list(workspaceId);
    expect(files.map((f) => f.path)).not.toContain('denied.txt');
    const [approval] = await host.wc.approvals.list(conversationId);
    expect(approval).toMatchObject({
      status: 'denied',
      reason: 'client',
      message: 'not on a Friday',
    });
  });

  it('an allowed call runs with updatedInput; input that does not fit the tool is refused first', async () => {
    const { workspaceId, conversationId } = await workspaceWith(host, ASK_BASH);
    const events = await converse(
      host,
      conversationId,
      bash('echo original > /workspace/input.txt'),
      async (event) => {
        if (event.event !== 'approval.requested') return;
        const path = `/v1/conversations/${conversationId}/approvals/${event.data.approvalId}`;
        const bad = await host.api(path, {
          method: 'POST',
          body: JSON.stringify({ decision: 'allow', updatedInput: { command: 5 } }),
        });
        expect(bad.status).toBe(400);
        expect(((await bad.json()) as { error: { code: string } }).error.code).toBe(
          'validation_failed',
        );
        // Nothing was recorded: the approval still waits.
        expect((await host.wc.approvals.list(conversationId))[0]?.status).toBe('pending');
        await host.wc.approvals.decide(conversationId, event.data.approvalId, {
          decision: 'allow',
          updatedInput: { command: 'echo updated > /workspace/input.txt' },
        });
      },
    );
    expect(resultOf(events)).toBe('done');
    expect(await host.wc.files.text(workspaceId, 'input.txt')).toBe('updated\n');
  });

  it('an interrupt denies what waits, with reason interrupt', async () => {
    const { conversationId } = await workspaceWith(host, ASK_BASH);
    const events = await converse(
      host,
      conversationId,
      bash('echo never > /workspace/never.txt'),
      async (event, runId) => {
        if (event.event === 'approval.requested')
          await host.wc.conversations.interrupt(conversationId, runId);
      },
    );
    expect(dataOf(events, 'approval.resolved')).toEqual([
      expect.objectContaining({ decision: 'deny', reason: 'interrupt' }),
    ]);
    expect(dataOf<{ interrupted: boolean }>(events, 'run.completed')[0]?.interrupted).toBe(true);
    const [approval] = await host.wc.approvals.list(conversationId);
    expect(approval).toMatchObject({ status: 'denied', reason: 'interrupt' });
    // A decision after the end is refused: the approval is decided.
    const late = await host.api(
      `/v1/conversations/${conversationId}/approvals/${approval?.id ?? ''}`,
      { method: 'POST', body: JSON.stringify({ decision: 'allow' }) },
    );
    expect(late.status).toBe(409);
  });

  it("calls a client tool by its configured name and gives the model the client's result", async () => {
    const { conversationId } = await workspaceWith(host, { clientTools: [LOOKUP_ORDER] });
    const events = await converse(
      host,
      conversationId,
      'MOCK:{"tool": "lookup_order", "input": {"orderId": "A-17"}}',
      async (event) => {
        if (event.event !== 'tool.requested') return;
        expect(event.data).toMatchObject({ name: 'lookup_order', input: { orderId: 'A-17' } });
        await host.wc.toolResults.send(conversationId, event.data.callId, {
          content: 'order A-17: shipped on 3 December',
        });
      },
    );
    expect(dataOf(events, 'tool.resolved')).toEqual([
      expect.objectContaining({ isError: false, reason: 'client' }),
    ]);
    const [result] = toolResults(events);
    expect(result).toEqual({
      isError: false,
      text: expect.stringContaining('shipped on 3 December'),
    });
    expect(resultOf(events)).toBe('done');
    const [call] = await host.wc.approvals.list(conversationId);
    expect(call).toMatchObject({ kind: 'tool', toolName: 'lookup_order', status: 'allowed' });
  });

  it("reports a client tool's error to the model", async () => {
    const { conversationId } = await workspaceWith(host);
    const events = await converse(
      host,
      conversationId,
      'MOCK:{"tool": "lookup_order", "input": {"orderId": "nope"}}',
      async (event) => {
        if (event.event === 'tool.requested')
          await host.wc.toolResults.send(conversationId, event.data.callId, {
            content: [{ type: 'text', text: 'no such order' }],
            isError: true,
          });
      },
      { clientTools: [LOOKUP_ORDER] },
    );
    const [result] = toolResults(events);
    expect(result).toEqual({ isError: true, text: expect.stringContaining('no such order') });
    expect(dataOf(events, 'tool.resolved')).toEqual([
      expect.objectContaining({ isError: true, reason: 'client' }),
    ]);
  });

  it('changes nothing for a workspace without rules: tools run without asking', async () => {
    const { workspaceId, conversationId } = await workspaceWith(host);
    const events = await host.send(conversationId, bash('echo free > /workspace/free.txt'));
    expect(dataOf(events, 'approval.requested')).toEqual([]);
    expect(await host.wc.files.text(workspaceId, 'free.txt')).toBe('free\n');
  });

  it('the container cannot approve its own calls: not on the agent socket, not through the proxy, not at the API', async () => {
    const { workspaceId, conversationId } = await workspaceWith(host, ASK_BASH);
    const apiUrl = new URL(host.url);
    const attempts: Record<string, string> = {};
    // The run's control token, as the host made it: the script looks for it by its digest.
    const tokens: string[] = [];
    const attach = host.workcell.approvals.attach.bind(host.workcell.approvals);
    const spy = vi.spyOn(host.workcell.approvals, 'attach').mockImplementation((link) => {
      const items = attach(link);
      tokens.push(items.controlToken);
      return items;
    });
    const events = await converse(
      host,
      conversationId,
      bash('echo attacked > /workspace/attacked.txt'),
      async (event, runId) => {
        if (event.event !== 'approval.requested') return;
        const approvalId = event.data.approvalId;
        const container = (await host.wc.workspaces.get(workspaceId)).container;
        if (!container) throw new Error('the workspace has no container');
        const digest = createHash('sha256')
          .update(tokens[0] ?? '')
          .digest('hex');
        const script = ATTACK.replaceAll('RUN_ID', runId)
          .replaceAll('TOKEN_SHA256', digest)
          .replaceAll('APPROVAL_ID', approvalId)
          .replaceAll('CONVERSATION_ID', conversationId)
          .replaceAll('API_HOST', apiUrl.hostname)
          .replaceAll('API_PORT', apiUrl.port);
        const out = await docker('exec', '-u', '1000', container.id, 'python3', '-c', script);
        Object.assign(attempts, JSON.parse(out.trim().split('\n').at(-1) ?? '{}'));
        // The probe sees the token where it is: planted in a process's environment, it is found.
        const planted = await docker(
          'exec',
          '-u',
          '1000',
          '-e',
          `PLANTED=${tokens[0] ?? ''}`,
          container.id,
          'python3',
          '-c',
          script,
        );
        attempts.plantedProbe = (
          JSON.parse(planted.trim().split('\n').at(-1) ?? '{}') as { tokenInProc: string }
        ).tokenInProc;
        // Every attempt failed: the approval still waits for a client.
        const [approval] = await host.wc.approvals.list(conversationId);
        expect(approval).toMatchObject({ id: approvalId, status: 'pending' });
        await host.wc.approvals.decide(conversationId, approvalId, { decision: 'deny' });
      },
    );
    spy.mockRestore();
    expect(tokens).toHaveLength(1);
    // The agent socket refuses an answer without the run's control token, and with a guessed one.
    expect(attempts.socketNoToken).toBe('404');
    expect(attempts.socketGuessedToken).toBe('404');
    // The egress proxy does not reach the host's API address.
    expect(attempts.viaProxy).toMatch(/^(403|error)/);
    // The container has no network of its own.
    expect(attempts.direct).toMatch(/^error/);
    // No process in the container carries the token in its environment or command line.
    expect(attempts.tokenInProc).toBe('absent');
    expect(attempts.plantedProbe).toMatch(/^present in \/proc\/\d+\/environ$/);
    expect(dataOf(events, 'approval.resolved')).toEqual([
      expect.objectContaining({ decision: 'deny', reason: 'client' }),
    ]);
    expect((await host.wc.files.list(workspaceId)).map((f) => f.path)).not.toContain(
      'attacked.txt',
    );
  });
});

/**
 * Run inside the container as the agent's user while an approval waits: tries to answer it
 * through the agent socket (with no token and a guessed one), through the egress proxy, and
 * directly at the host's API address, and looks for the run's control token (known here only by
 * its SHA-256) in every process's environment and command line and in the files the agent's
 * user can read. Prints one JSON line of outcomes.
 */
const ATTACK = String.raw`
import hashlib, json, os, re, socket, http.client, urllib.request

out = {}
body = json.dumps({"kind": "decision", "decision": "allow", "reason": "client"})

class UnixConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect("/run/workcell/agent.sock")

def socket_post(headers):
    try:
        c = UnixConnection("agent", timeout=5)
        c.request("POST", "/runs/RUN_ID/answers/APPROVAL_ID", body, dict({"content-type": "application/json"}, **headers))
        return str(c.getresponse().status)
    except Exception as e:
        return "error " + type(e).__name__

out["socketNoToken"] = socket_post({})
out["socketGuessedToken"] = socket_post({"x-workcell-control-token": "A" * 43})

api_body = json.dumps({"decision": "allow"}).encode()
api_path = "/v1/conversations/CONVERSATION_ID/approvals/APPROVAL_ID"

def via_proxy():
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": "http://127.0.0.1:3128"}))
        req = urllib.request.Request("http://API_HOST:API_PORT" + api_path, data=api_body, headers={"content-type": "application/json"})
        return str(opener.open(req, timeout=5).status)
    except urllib.error.HTTPError as e:
        return str(e.code)
    except Exception as e:
        return "error " + type(e).__name__

out["viaProxy"] = via_proxy()

def direct():
    try:
        c = http.client.HTTPConnection("API_HOST", int("API_PORT"), timeout=3)
        c.request("POST", api_path, api_body, {"content-type": "application/json"})
        return str(c.getresponse().status)
    except Exception as e:
        return "error " + type(e).__name__

out["direct"] = direct()

CANDIDATE = re.compile(rb"[A-Za-z0-9_-]{43,}")

def holds_token(data):
    for m in CANDIDATE.finditer(data):
        for i in range(0, len(m.group(0)) - 42):
            if hashlib.sha256(m.group(0)[i:i + 43]).hexdigest() == "TOKEN_SHA256":
                return True
    return False

found = "absent"
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    for name in ("environ", "cmdline"):
        try:
            data = open("/proc/%s/%s" % (pid, name), "rb").read()
        except Exception:
            continue
        if holds_token(data):
            found = "present in /proc/%s/%s" % (pid, name)
for root in ("/workspace", "/tmp", "/home/agent", "/var/lib/workcell", "/run/workcell"):
    for dirpath, _, names in os.walk(root):
        for n in names:
            try:
                with open(os.path.join(dirpath, n), "rb") as f:
                    if holds_token(f.read(4 * 1024 * 1024)):
                        found = "present in " + os.path.join(dirpath, n)
            except Exception:
                continue
out["tokenInProc"] = found
print(json.dumps(out))
`;
