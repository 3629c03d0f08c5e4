import type { RunEvent, RunEventStream } from '@workcell/client';
import { ChatLog } from '../chat-log.js';
import { h, replace } from '../dom.js';
import { FilesPanel } from '../files-panel.js';
import { describeError } from '../session.js';
import type { ViewContext } from './context.js';

/**
 * The chat: the conversation's runs in a log named "Conversation", a "Message" box with "Send",
 * and "Stop" while a run is in progress. On load it replays the conversation's history (the
 * prompts included: each run records its `user.message`) and, when
 * its last run is still going, rejoins it after the last event shown: a reload or a shared link
 * misses nothing. The workspace's files sit beside it and refresh when a run ends. Every run that
 * ended has "Fork from here" (a new conversation whose history ends with it) and "Rewind to here"
 * (this conversation continues from it; the files too, when the confirmation says so).
 */
export async function conversationView(
  ctx: ViewContext,
  workspaceId: string,
  conversationId: string,
): Promise<void> {
  const logEl = h('div', {
    class: 'log',
    role: 'log',
    'aria-label': 'Conversation',
    'aria-live': 'polite',
  });
  const alert = h('p', { class: 'error', role: 'alert' });
  const log = new ChatLog(
    logEl,
    async (approvalId, decision) => {
      await ctx.wc.approvals.decide(
        conversationId,
        approvalId,
        { decision },
        { signal: ctx.signal },
      );
    },
    {
      fork: (atRunId) => {
        ctx.wc.conversations.fork(conversationId, { atRunId }).then(
          (forked) => ctx.navigate(`#/w/${workspaceId}/c/${forked.id}`),
          (err: unknown) => {
            alert.textContent = describeError(err);
          },
        );
      },
      rewind: (toRunId) => {
        if (running) {
          alert.textContent = 'Stop the run in progress before rewinding.';
          return;
        }
        const files = confirm(
          "Also return the workspace's files to the end of this run? (Cancel rewinds the conversation only.)",
        );
        ctx.wc.conversations.rewind(conversationId, { toRunId, files }).then(
          () => ctx.reload(),
          (err: unknown) => {
            alert.textContent = describeError(err);
          },
        );
      },
    },
  );
  const message = h('textarea', { id: 'message', rows: 3, placeholder: 'Ask the agent…' });
  const send = h('button', { type: 'submit' }, 'Send');
  const stop = h('button', { type: 'button', class: 'danger', hidden: true }, 'Stop');
  const files = new FilesPanel(ctx.wc, workspaceId);
  const form = h(
    'form',
    { class: 'composer' },
    h('label', { for: 'message' }, 'Message'),
    message,
    h('div', { class: 'row' }, send, stop),
  );
  replace(
    ctx.root,
    h('p', {}, h('a', { href: `#/w/${workspaceId}` }, '← Workspace')),
    h(
      'div',
      { class: 'columns chat' },
      h('section', { class: 'panel' }, logEl, alert, form),
      files.element,
    ),
  );

  let runId: string | null = null;
  let running = false;
  /** Stop was pressed before the run's id arrived: interrupt as soon as it does. */
  let stopWanted = false;
  const setRunning = (on: boolean): void => {
    running = on;
    if (!on) stopWanted = false;
    stop.hidden = !on;
    stop.disabled = false;
    send.disabled = on;
  };

  /** Renders a run's events to its end; any error is shown plainly. */
  const follow = async (stream: RunEventStream): Promise<void> => {
    setRunning(true);
    try {
      for await (const ev of stream) {
        if (ev.event === 'run.started') {
          runId = ev.data.runId;
          if (stopWanted) interrupt(runId);
        }
        log.event(ev);
      }
    } catch (err) {
      if (!ctx.signal.aborted) alert.textContent = describeError(err);
    } finally {
      if (!ctx.signal.aborted) {
        setRunning(false);
        void files.refresh();
      }
    }
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const content = message.value.trim();
    if (!content || running) return;
    alert.textContent = '';
    message.value = '';
    // The new run's id comes with its run.started; Stop before that waits for it.
    runId = null;
    log.userMessage(content, true);
    void follow(ctx.wc.conversations.send(conversationId, content, { signal: ctx.signal }));
  });
  message.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  const interrupt = (id: string): void => {
    stopWanted = false;
    ctx.wc.conversations.interrupt(conversationId, id).catch((err: unknown) => {
      alert.textContent = describeError(err);
      stop.disabled = false;
    });
  };
  stop.addEventListener('click', () => {
    stop.disabled = true;
    if (runId && running) interrupt(runId);
    else stopWanted = true;
  });

  try {
    const [history] = await Promise.all([
      ctx.wc.conversations.history(conversationId, { signal: ctx.signal }),
      files.refresh(),
    ]);
    let last: { runId: string; status: string; lastSeq: number } | null = null;
    for (const run of history.runs) {
      if (run.rewound) log.beginRewound();
      for (const e of run.events) log.event(e as RunEvent);
      log.endRewound();
      last = { runId: run.runId, status: run.status, lastSeq: run.events.at(-1)?.seq ?? 0 };
    }
    if (last && last.status === 'running') {
      runId = last.runId;
      await follow(
        ctx.wc.conversations.events(conversationId, last.runId, {
          after: last.lastSeq,
          signal: ctx.signal,
        }),
      );
    }
  } catch (err) {
    if (!ctx.signal.aborted) alert.textContent = describeError(err);
  }
  if (!ctx.signal.aborted) message.focus();
}
