import { describe, expect, it } from 'vitest';
import { exitOutput, exitSummary, recordFailure, type FailureRecord } from './crash-loop.js';

describe('exitOutput: what an exited agent left in its pane', () => {
  it.each<[string, string, string[]]>([
    ['empty pane', '\n\n\n', []],
    ['tmux\'s own dead-pane line is dropped', 'error: unknown option \'--bogus\'\n\nPane is dead (status 1, Thu Dec  3 13:19:07 2026)\n', ["error: unknown option '--bogus'"]],
    ['trailing blanks and empty lines', 'one   \n\n  two\n\n\n', ['one', '  two']],
    ['only the last 8 lines', Array.from({ length: 20 }, (_, i) => `line ${i}`).join('\n'), Array.from({ length: 8 }, (_, i) => `line ${i + 12}`)],
    ['a very long line is cut', 'x'.repeat(500), [`${'x'.repeat(299)}…`]],
    ['a TUI killed while up: its frame\'s rules are dropped', `✻ Welcome\n${'─'.repeat(80)}\n❯\n${'─'.repeat(80)}\n  s1 · a · 5h 3% · 7d –\n`, ['✻ Welcome', '❯', '  s1 · a · 5h 3% · 7d –']],
  ])('%s', (_n, pane, want) => {
    expect(exitOutput(pane)).toEqual(want);
  });
});

describe('exitSummary: one line for messages', () => {
  it.each<[string, string[] | undefined, string | undefined]>([
    ['nothing', undefined, undefined],
    ['no lines', [], undefined],
    ['one line', ['--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons'], '--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons'],
    ['the last three, trimmed and joined', ['a', ' b', 'c ', 'd'], 'b ⏎ c ⏎ d'],
  ])('%s', (_n, lines, want) => {
    expect(exitSummary(lines)).toBe(want);
  });

  it('keeps the end of a long text', () => {
    const s = exitSummary(['y'.repeat(290), 'the reason']) ?? '';
    expect(s.length).toBe(300);
    expect(s.endsWith('the reason')).toBe(true);
    expect(s.startsWith('…')).toBe(true);
  });
});

describe('recordFailure', () => {
  it('keeps 20 failures and the pane output of the latest three only', () => {
    let fs: FailureRecord[] = [];
    for (let i = 0; i < 25; i++) fs = recordFailure(fs, { at: `t${i}`, reason: 'Exited', exitStatus: 1, uptimeMs: 10, lastOutput: [`out ${i}`] });
    expect(fs).toHaveLength(20);
    expect(fs.map((f) => f.lastOutput?.[0] ?? null).slice(-4)).toEqual([null, 'out 22', 'out 23', 'out 24']);
    expect(fs[0]?.at).toBe('t5');
  });
});
