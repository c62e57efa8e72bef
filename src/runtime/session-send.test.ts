import { describe, expect, it } from 'vitest';
import { MAX_SEND_BYTES, sendRefusal, sendTextProblem, type SendView } from './session-send.js';

describe('sendTextProblem', () => {
  const cases: [string, string, RegExp | undefined][] = [
    ['plain text', 'Please also run the linter.', undefined],
    ['several lines, tabs, CRLF, unicode, shell-ish text', 'a\tb\r\nc\n日本語 👩🏽‍💻 $(rm -rf /) -x ;', undefined],
    ['a trailing line break', 'ends with a backslash \\\n', undefined],
    ['empty', '', /empty/],
    ['only whitespace', ' \n\t ', /empty/],
    ['ESC (could end the bracketed paste)', 'hi \u001b[201~ then keys', /1 control character/],
    ['NUL and DEL', 'a\u0000b\u007f', /2 control character/],
    ['a task marker', 'look at [cf-task:20260101-000000-abc] please', /task marker \[cf-task:20260101-000000-abc\]/],
    ['a trailing backslash', 'continue \\', /ends with a backslash/],
    ['too long', 'x'.repeat(MAX_SEND_BYTES + 1), /at most 32768/],
  ];
  it.each(cases)('%s', (_what, text, problem) => {
    const got = sendTextProblem(text);
    if (problem === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(problem);
  });

  it('counts bytes, not characters', () => {
    expect(sendTextProblem('é'.repeat(MAX_SEND_BYTES / 2))).toBeUndefined();
    expect(sendTextProblem('é'.repeat(MAX_SEND_BYTES / 2 + 1))).toMatch(/32770 bytes/);
  });
});

describe('sendRefusal', () => {
  const alive = { owned: true, paneDead: false };
  const cases: [string, SendView, boolean, RegExp | undefined][] = [
    ['idle: sent', { suspended: false, tmux: alive, activity: 'idle' }, false, undefined],
    ['idle, queue asked: sent', { suspended: false, tmux: alive, activity: 'idle' }, true, undefined],
    ['suspended', { suspended: true, activity: 'idle' }, true, /is suspended/],
    ['no tmux session', { suspended: false, activity: 'idle' }, true, /is not running \(it has no tmux session/],
    ['a foreign tmux session of that name', { suspended: false, tmux: { owned: false, paneDead: false }, activity: 'idle' }, true, /not started by this controller/],
    ['pane dead', { suspended: false, tmux: { owned: true, paneDead: true }, activity: 'idle' }, true, /is not running \(its agent exited/],
    ['exited', { suspended: false, tmux: alive, activity: 'exited' }, true, /is not running/],
    ['starting', { suspended: false, tmux: alive, activity: 'starting' }, true, /is starting/],
    ['never observed', { suspended: false, tmux: alive }, true, /is starting/],
    ['permission prompt, even with queue', { suspended: false, tmux: alive, activity: 'waitingInput' }, true, /permission prompt/],
    ['working', { suspended: false, tmux: alive, activity: 'working' }, false, /is working; pass queue: true/],
    ['working on a task', { suspended: false, tmux: alive, activity: 'working', task: 't-1' }, false, /is working on task t-1; pass queue: true \(CLI: --queue\)/],
    ['working, queue asked: sent', { suspended: false, tmux: alive, activity: 'working', task: 't-1' }, true, undefined],
    ['idle but a task was just dispatched to it', { suspended: false, tmux: alive, activity: 'idle', task: 't-2' }, false, /on task t-2/],
    ['rate-limited', { suspended: false, tmux: alive, activity: 'rateLimited' }, false, /is rate-limited/],
    ['rate-limited, queue asked: sent', { suspended: false, tmux: alive, activity: 'rateLimited' }, true, undefined],
  ];
  it.each(cases)('%s', (_what, view, queue, refusal) => {
    const got = sendRefusal('s1', view, queue);
    if (refusal === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(refusal);
  });
});
