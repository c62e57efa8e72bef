import { describe, expect, it } from 'vitest';
import { applyEvents, initialActivity, recordFromLine, type HookEventRecord } from './activity.js';
import { taskIdFromPrompt } from './task-marker.js';

const ev = (t: number, event: string, extra: Partial<HookEventRecord> = {}): HookEventRecord => ({ t, event, ...extra });

describe('applyEvents', () => {
  it.each<[string, HookEventRecord[], string]>([
    ['no events: starting', [], 'starting'],
    ['session start: idle', [ev(1, 'SessionStart', { source: 'startup' })], 'idle'],
    ['prompt: working', [ev(1, 'SessionStart'), ev(2, 'UserPromptSubmit')], 'working'],
    ['turn ends: idle', [ev(1, 'UserPromptSubmit'), ev(2, 'Stop')], 'idle'],
    ['rate limit: rateLimited', [ev(1, 'UserPromptSubmit'), ev(2, 'StopFailure', { error: 'rate_limit' })], 'rateLimited'],
    ['other API error: idle', [ev(1, 'UserPromptSubmit'), ev(2, 'StopFailure', { error: 'overloaded' })], 'idle'],
    ['permission prompt: waitingInput', [ev(1, 'UserPromptSubmit'), ev(2, 'Notification', { notificationType: 'permission_prompt' })], 'waitingInput'],
    ['idle prompt keeps rateLimited', [ev(1, 'StopFailure', { error: 'rate_limit' }), ev(2, 'Notification', { notificationType: 'idle_prompt' })], 'rateLimited'],
    ['session end: exited', [ev(1, 'SessionStart'), ev(2, 'SessionEnd')], 'exited'],
    ['status line is only a heartbeat', [ev(1, 'UserPromptSubmit'), ev(2, 'StatusLine')], 'working'],
  ])('%s', (_n, events, activity) => {
    expect(applyEvents(initialActivity(0), events).activity).toBe(activity);
  });

  it('ignores events from before the launch', () => {
    const s = applyEvents(initialActivity(0), [ev(5, 'UserPromptSubmit'), ev(9, 'SessionStart')], 8);
    expect(s.activity).toBe('idle');
    expect(s.lastHeartbeat).toBe(new Date(9).toISOString());
  });

  it('tracks the conversation id, the task and its completion, and the latest rate limits', () => {
    const s = applyEvents(initialActivity(0), [
      ev(1, 'SessionStart', { sessionId: 'c1' }),
      ev(2, 'UserPromptSubmit', { taskId: 'T-1' }),
      ev(3, 'StatusLine', { rateLimits: { five_hour: { used_percentage: 40, resets_at: 100 } } }),
      ev(4, 'Stop'),
    ]);
    expect(s).toMatchObject({ claudeSessionId: 'c1', lastCompletedTask: 'T-1', lastCompletedAt: new Date(4).toISOString(), lastTurnEndedAt: new Date(4).toISOString(), turns: 1, rateLimits: { five_hour: { used_percentage: 40 } } });
    expect(s.currentTask).toBeUndefined();
  });

  it('records when the agent process started (startup or resume), not a cleared or compacted context', () => {
    const s = applyEvents(initialActivity(0), [ev(1, 'SessionStart', { source: 'startup' }), ev(2, 'UserPromptSubmit'), ev(3, 'SessionEnd'), ev(4, 'SessionStart', { source: 'resume' })]);
    expect(s.processStartedAt).toBe(new Date(4).toISOString());
    const c = applyEvents(s, [ev(5, 'SessionStart', { source: 'clear' }), ev(6, 'SessionStart', { source: 'compact' })]);
    expect(c.processStartedAt).toBe(new Date(4).toISOString());
  });

  it('keeps `since` when the activity does not change', () => {
    const s = applyEvents(initialActivity(0), [ev(1, 'SessionStart'), ev(2, 'Stop'), ev(3, 'Notification', { notificationType: 'idle_prompt' })]);
    expect(s.since).toBe(new Date(1).toISOString());
  });
});

describe('taskIdFromPrompt', () => {
  it.each([
    ['Task [cf-task:2026-11-22-fix-login] in file x', '2026-11-22-fix-login'],
    ['no marker here', undefined],
    ['[cf-task:] empty', undefined],
    ['[cf-task:a b] space', undefined],
  ])('%s', (prompt, id) => expect(taskIdFromPrompt(prompt)).toBe(id));
});

describe('recordFromLine', () => {
  it.each<[string, unknown, Partial<HookEventRecord> | undefined]>([
    ['a record written by `hook event`', { t: 5, event: 'Stop', sessionId: 'x' }, { t: 5, event: 'Stop', sessionId: 'x' }],
    ['a raw hook input from the shell observer', { t: 6, via: 'hook', raw: { hook_event_name: 'StopFailure', error: 'rate_limit', error_message: "You've hit your session limit · resets 3pm" } }, { t: 6, event: 'StopFailure', error: 'rate_limit', errorMessage: "You've hit your session limit · resets 3pm" }],
    // The real CLI (2.1.332) puts the limit text in last_assistant_message.
    ['a real StopFailure input', { t: 7, via: 'hook', raw: { session_id: 's', hook_event_name: 'StopFailure', error: 'rate_limit', last_assistant_message: "You've hit your 5-hour limit · resets 6:06pm (UTC)" } }, { t: 7, event: 'StopFailure', sessionId: 's', error: 'rate_limit', errorMessage: "You've hit your 5-hour limit · resets 6:06pm (UTC)" }],
    ['a Stop keeps no assistant text', { t: 8, via: 'hook', raw: { hook_event_name: 'Stop', last_assistant_message: 'All done' } }, { t: 8, event: 'Stop' }],
    ['a raw status line input', { t: 7, via: 'statusline', raw: { hook_event_name: 'Status', session_id: 's', rate_limits: { five_hour: { used_percentage: 40 } } } }, { t: 7, event: 'StatusLine', sessionId: 's', rateLimits: { five_hour: { used_percentage: 40 } } }],
    ['a raw prompt keeps only the task id', { t: 8, via: 'hook', raw: { hook_event_name: 'UserPromptSubmit', prompt: 'secret [cf-task:T-1] text' } }, { t: 8, event: 'UserPromptSubmit', taskId: 'T-1', promptBytes: 25 }],
    ['raw null (input was not JSON)', { t: 9, via: 'hook', raw: null }, undefined],
    ['no time', { via: 'hook', raw: {} }, undefined],
    ['no event name in a parsed record', { t: 1 }, undefined],
    ['not an object', [1, 2], undefined],
  ])('%s', (_n, line, want) => {
    const r = recordFromLine(line);
    if (want === undefined) expect(r).toBeUndefined();
    else expect(r).toEqual(want);
  });
});
