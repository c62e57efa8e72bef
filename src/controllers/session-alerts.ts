/**
 * When a session needs a person: Claude Code's `Notification` hook says the agent waits for input.
 * Pure: from the hook events of one reconcile and the session's activity, the
 * `SessionWaitingForInput` events to record (and notify).
 *
 * - `permission_prompt` (a tool call waits for approval) and `elicitation_dialog` (an MCP server
 *   asks a question) always need a person: the agent is blocked until someone answers.
 * - `idle_prompt` (Claude Code's reminder after about 60 s without input) is an alert only after a
 *   turn that was not a queue task: someone (a person at the pane, a conductor through `send`) asked
 *   something and the answer waits for them. Idle after a task, or before any turn, is a pool session
 *   waiting for its next task: normal, not an alert.
 * - Other types (`auth_success`, `elicitation_complete`, ...) are not alerts.
 */
import { applyEvents, type ActivityState, type HookEventRecord } from '../core/activity.js';
import type { PlannedEvent } from '../core/controller.js';

/** Notification types that always mean the agent is blocked on a person. */
export const BLOCKING_NOTIFICATIONS: ReadonlySet<string> = new Set(['permission_prompt', 'elicitation_dialog']);

const WHAT: Record<string, string> = {
  permission_prompt: 'a tool call waits for permission',
  elicitation_dialog: 'an MCP server asks a question',
  idle_prompt: 'its last turn ended and it waits for a reply',
};

/** One line, for a message: control characters out, at most `max` characters. */
function oneLine(s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex -- folding control characters is the point
  const t = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/**
 * The alerts in `events` (this reconcile's new hook events of the session, oldest first). `before`
 * is the activity state they are folded onto (the prior status), so that an `idle_prompt` is judged
 * by the turn that ended before it.
 */
export function waitingForInputAlerts(key: string, events: readonly HookEventRecord[], sinceMs: number, before: ActivityState): PlannedEvent[] {
  const out: PlannedEvent[] = [];
  let state = before;
  for (const e of events) {
    const type = e.event === 'Notification' && e.t > sinceMs ? e.notificationType : undefined;
    if (type !== undefined) {
      let alert = BLOCKING_NOTIFICATIONS.has(type);
      if (type === 'idle_prompt') {
        const lastTurn = state.lastTurnEndedAt;
        alert = lastTurn !== undefined && state.lastCompletedAt !== lastTurn && state.activity !== 'rateLimited';
      }
      if (alert) {
        const task = type === 'idle_prompt' ? undefined : state.currentTask;
        const said = e.errorMessage ? `: ${oneLine(e.errorMessage)}` : '';
        out.push({
          key,
          type: 'Warning',
          reason: 'SessionWaitingForInput',
          message: `waiting for a person (${type}): ${WHAT[type] ?? 'it waits for input'}${task ? ` while on task ${task}` : ''}${said}`,
          data: { notificationType: type, at: new Date(e.t).toISOString(), ...(task ? { taskId: task } : {}), ...(e.errorMessage ? { notification: oneLine(e.errorMessage, 500) } : {}) },
        });
      }
    }
    state = applyEvents(state, [e], sinceMs);
  }
  return out;
}
