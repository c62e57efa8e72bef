import { describe, expect, it } from 'vitest';
import { confirmPaneLimit, readPane } from './pane-fallback.js';

const now = new Date('2026-11-22T10:00:00Z');
const box = (inner: string) => ['╭──────────────╮', `│ > ${inner}`, '╰──────────────╯', '  ⏵⏵ bypass permissions on'].join('\n');

const RULE = '─'.repeat(60);
const REAL_IDLE = ['● Done: fix the bug', '✻ Worked for 1s · done 1:06 PM', '                 ◐ medium · /effort', RULE, '❯ ', RULE, '  s1 · a · 5h 23% · 7d 11%', '  ⏵⏵ bypass permissions on (shift+tab to cycle)'].join('\n');
const REAL_WORKING = ['✻ Thundering…', '                 ◐ medium · /effort', RULE, '❯ ', RULE, '  ⏵⏵ bypass permissions on (shift+tab to cycle) · esc to interrupt · ← for agents'].join('\n');
const REAL_LIMITED = ['❯ another task', "  ⎿  You've hit your 5-hour limit · resets 6:06pm (UTC)", '● Usage limit reached · set to continue automatically at 6:06pm', RULE, '❯ ', RULE, '  ⚠ Usage limit reached · limit resets 6:06pm', '    Continuing automatically at 6:06pm · Esc to cancel', '  ⏵⏵ bypass permissions on (shift+tab to cycle)'].join('\n');

describe('readPane', () => {
  it.each<[string, string, string | undefined]>([
    ['an empty prompt box: idle', `Done.\n\n${box('')}`, 'idle'],
    ['a running turn: working', `✻ Working… (3s · esc to interrupt)\n${box('')}`, 'working'],
    ['nothing recognizable', 'bash-5.2$ ', undefined],
    // Captured from the real CLI 2.1.332 (test/conformance/).
    ['real CLI, idle', REAL_IDLE, 'idle'],
    ['real CLI, working', REAL_WORKING, 'working'],
    ['real CLI, a prompt just submitted above an empty box: idle', `❯ fix the bug\n${REAL_IDLE}`, 'idle'],
  ])('%s', (_n, text, activity) => expect(readPane(text, now).activity).toBe(activity));

  it('finds a limit message in the status region', () => {
    const r = readPane(`some output\n${box('')}\n  You've hit your session limit · resets 3:45pm (UTC)\n  /login to switch to an API usage-billed account.`, now);
    expect(r.limit?.text).toMatch(/You've hit your session limit/);
    expect(r.limit?.resetsAt).toBe('2026-11-22T15:45:00.000Z');
  });

  it('ignores the same words printed higher up, as ordinary output (e.g. cat of a file)', () => {
    const output = ["$ cat notes.md", "You've hit your session limit · resets 3pm", ...Array.from({ length: 12 }, (_, i) => `line ${i}`)].join('\n');
    expect(readPane(`${output}\n${box('')}`, now).limit).toBeUndefined();
  });

  it('finds the real CLI\'s limit in its status region (2.1.332)', () => {
    const r = readPane(REAL_LIMITED, new Date('2026-12-03T13:06:52Z'));
    expect(r.limit?.text).toBe('⚠ Usage limit reached · limit resets 6:06pm');
    expect(r.limit?.resetsAt).toBe('2026-12-03T18:06:00.000Z');
  });

  it('ignores warnings and transient API errors', () => {
    expect(readPane(`${box('')}\nApproaching 5-hour limit`, now).limit).toBeUndefined();
    expect(readPane(`${box('')}\nAPI Error: Rate limit reached`, now).limit).toBeUndefined();
  });
});

describe('confirmPaneLimit', () => {
  it.each([
    [undefined, { text: 'x' }, false],
    [{ text: 'x' }, undefined, false],
    [{ text: 'x' }, { text: 'y' }, false],
    [{ text: 'x' }, { text: 'x' }, true],
  ])('%j then %j -> %s', (a, b, want) => expect(confirmPaneLimit(a, b)).toBe(want));
});
