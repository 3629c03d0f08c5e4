import { describe, expect, it } from 'vitest';
import { RunGate } from '../src/gate.js';

const TOKEN = 'T'.repeat(43);

describe('a run gate waits for the host', () => {
  it('announces an approval, waits, and allows with the updated input', async () => {
    const gate = new RunGate(TOKEN);
    const result = gate.approve('Bash', { command: 'ls' }, 'toolu_1', new AbortController().signal);
    const [requested] = gate.drain();
    expect(requested).toMatchObject({
      type: 'approval.requested',
      toolName: 'Bash',
      toolUseId: 'toolu_1',
    });
    const id = requested?.type === 'approval.requested' ? requested.approvalId : '';
    expect(
      gate.answer(id, {
        kind: 'decision',
        decision: 'allow',
        reason: 'client',
        updatedInput: { command: 'pwd' },
      }),
    ).toBe('accepted');
    expect(await result).toEqual({ behavior: 'allow', updatedInput: { command: 'pwd' } });
    expect(gate.drain()).toEqual([
      { type: 'approval.resolved', approvalId: id, decision: 'allow', reason: 'client' },
    ]);
    // A second answer is told apart from an unknown id.
    expect(gate.answer(id, { kind: 'decision', decision: 'deny', reason: 'client' })).toBe(
      'answered',
    );
    expect(gate.answer('apr_nope', { kind: 'decision', decision: 'deny', reason: 'client' })).toBe(
      'unknown',
    );
  });

  it('tells the model a denial with the message, and an interrupt denies what waits', async () => {
    const gate = new RunGate(TOKEN);
    const denied = gate.approve('Bash', {}, null, new AbortController().signal);
    const id = (gate.drain()[0] as { approvalId: string }).approvalId;
    gate.answer(id, { kind: 'decision', decision: 'deny', reason: 'client', message: 'no' });
    expect(await denied).toEqual({ behavior: 'deny', message: 'no' });

    const waiting = gate.approve('Write', {}, null, new AbortController().signal);
    const call = gate.callClientTool('lookup', { id: 1 }, new AbortController().signal);
    gate.interruptAll();
    expect(await waiting).toMatchObject({ behavior: 'deny', interrupt: true });
    expect(await call).toMatchObject({ isError: true });
    expect(gate.drain().filter((e) => e.type.endsWith('.resolved'))).toEqual([
      expect.objectContaining({ type: 'approval.resolved', reason: 'client' }),
      expect.objectContaining({ type: 'approval.resolved', decision: 'deny', reason: 'interrupt' }),
      expect.objectContaining({ type: 'tool.resolved', isError: true, reason: 'interrupt' }),
    ]);
  });

  it("passes a client tool's result to the SDK as MCP content", async () => {
    const gate = new RunGate(TOKEN);
    const call = gate.callClientTool('lookup', {}, new AbortController().signal);
    const id = (gate.drain()[0] as { callId: string }).callId;
    expect(gate.answer(id, { kind: 'decision', decision: 'allow', reason: 'client' })).toBe(
      'mismatch',
    );
    gate.answer(id, {
      kind: 'result',
      reason: 'client',
      isError: false,
      content: [
        { type: 'text', text: 'found' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
      ],
    });
    expect(await call).toEqual({
      content: [
        { type: 'text', text: 'found' },
        { type: 'image', data: 'AAAA', mimeType: 'image/png' },
      ],
      isError: false,
    });
  });

  it('accepts only the run control token', () => {
    expect(new RunGate(TOKEN).authorises(TOKEN)).toBe(true);
    expect(new RunGate(TOKEN).authorises('T'.repeat(42))).toBe(false);
    expect(new RunGate(TOKEN).authorises(undefined)).toBe(false);
    expect(new RunGate(null).authorises('')).toBe(false);
  });
});
