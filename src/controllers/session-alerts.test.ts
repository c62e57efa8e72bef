import { describe, expect, it } from 'vitest';
import { applyEvents, initialActivity, type HookEventRecord } from '../core/activity.js';
import { waitingForInputAlerts } from './session-alerts.js';

const ev = (t: number, event: string, extra: Partial<HookEventRecord> = {}): HookEventRecord => ({ t, event, ...extra });
const note = (t: number, type: string, message?: string) => ev(t, 'Notification', { notificationType: type, ...(message ? { errorMessage: message } : {}) });
const started = applyEvents(initialActivity(0), [ev(1, 'SessionStart')]);

describe('waitingForInputAlerts', () => {
  it.each<[string, HookEventRecord[], string[]]>([
    ['a permission prompt during a task', [ev(10, 'UserPromptSubmit', { taskId: 'T-1' }), note(11, 'permission_prompt', 'Claude needs your permission to use Bash')],
      ['waiting for a person (permission_prompt): a tool call waits for permission while on task T-1: Claude needs your permission to use Bash']],
    ['an MCP question', [ev(10, 'UserPromptSubmit'), note(11, 'elicitation_dialog')], ['waiting for a person (elicitation_dialog): an MCP server asks a question']],
    ['idle after a turn a person asked for', [ev(10, 'UserPromptSubmit'), ev(12, 'Stop'), note(72, 'idle_prompt', 'Claude is waiting for your input')],
      ['waiting for a person (idle_prompt): its last turn ended and it waits for a reply: Claude is waiting for your input']],
    ['idle after a task: the pool at rest, not an alert', [ev(10, 'UserPromptSubmit', { taskId: 'T-1' }), ev(12, 'Stop'), note(72, 'idle_prompt')], []],
    ['idle before any turn: not an alert', [note(61, 'idle_prompt')], []],
    ['idle after a rate limit: not an alert', [ev(10, 'UserPromptSubmit'), ev(12, 'Stop'), ev(20, 'UserPromptSubmit'), ev(21, 'StopFailure', { error: 'rate_limit' }), note(80, 'idle_prompt')], []],
    ['other notification types are not alerts', [note(11, 'auth_success'), note(12, 'elicitation_complete')], []],
    ['two prompts, two alerts', [ev(10, 'UserPromptSubmit'), note(11, 'permission_prompt'), note(30, 'permission_prompt')], [
      'waiting for a person (permission_prompt): a tool call waits for permission',
      'waiting for a person (permission_prompt): a tool call waits for permission',
    ]],
    ['events before the launch are not alerts', [note(0.5, 'permission_prompt')], []],
  ])('%s', (_name, events, messages) => {
    const alerts = waitingForInputAlerts('Session/s1', events, 0.9, started);
    expect(alerts.map((a) => a.message)).toEqual(messages);
    for (const a of alerts) expect(a).toMatchObject({ key: 'Session/s1', type: 'Warning', reason: 'SessionWaitingForInput' });
  });

  it('judges an idle prompt by the turn before it, across reconciles (prior state)', () => {
    const afterTask = applyEvents(started, [ev(10, 'UserPromptSubmit', { taskId: 'T-1' }), ev(12, 'Stop')]);
    expect(waitingForInputAlerts('Session/s1', [note(72, 'idle_prompt')], 12, afterTask)).toEqual([]);
    const afterSend = applyEvents(afterTask, [ev(20, 'UserPromptSubmit'), ev(25, 'Stop')]);
    expect(waitingForInputAlerts('Session/s1', [note(85, 'idle_prompt')], 25, afterSend)).toHaveLength(1);
  });

  it('keeps the notification text in the data, on one line', () => {
    const [a] = waitingForInputAlerts('Session/s1', [ev(10, 'UserPromptSubmit'), note(11, 'permission_prompt', 'line one\nline two')], 0, started);
    expect(a?.data).toEqual({ notificationType: 'permission_prompt', at: new Date(11).toISOString(), notification: 'line one line two' });
  });
});
