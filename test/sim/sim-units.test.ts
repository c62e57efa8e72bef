import { describe, expect, it } from 'vitest';
import { parseArgs, SimArgsError } from '../../src/sim/args.js';
import { parseDirective, parsePrompt } from '../../src/sim/directives.js';
import { classifyHook, preToolDecision, type HookRunResult } from '../../src/sim/hooks.js';
import { InputParser, type InputEvent } from '../../src/sim/input.js';
import { encodeCwd } from '../../src/sim/paths.js';
import { matcherMatches, mergeSettings } from '../../src/sim/settings.js';
import { promptText } from '../../src/sim/prompt-text.js';
import { PASTE_CASES, PASTE_ID, QUEUED_PASTE_CASES } from '../support/paste-cases.js';
import { exhaustion, formatReset, limitMessage, statusRateLimits } from '../../src/sim/usage.js';

const ID = '0b6f1c2e-4d5a-4e8b-9c1d-2e3f4a5b6c7d';

describe('parseArgs', () => {
  it.each([
    [['--session-id', ID], { sessionId: ID }],
    [['--resume', ID], { resume: ID }],
    [['-r', ID], { resume: ID }],
    [['--resume'], { resume: true }],
    [['--resume=abc'], { resume: 'abc' }],
    [['--settings', '/x.json', '--settings', '{"a":1}'], { settings: ['/x.json', '{"a":1}'] }],
    [['--model', 'opus', '--dangerously-skip-permissions'], { model: 'opus', skipPermissions: true }],
    [['-p', 'do it'], { print: true, prompt: 'do it' }],
    [['--version'], { version: true }],
    [['auth', 'status'], { subcommand: ['auth', 'status'] }],
    [['--', '-leading'], { prompt: '-leading' }],
  ])('%j', (argv, expected) => {
    expect(parseArgs(argv)).toMatchObject(expected);
  });

  it.each([
    [['--nope'], "unknown option '--nope'"],
    [['--session-id'], 'argument missing'],
    [['--session-id', 'xyz'], 'Invalid session ID'],
    [['--session-id', ID, '--resume', ID], '--fork-session'],
  ])('rejects %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(SimArgsError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

function kinds(events: InputEvent[]): string[] {
  return events.map((e) => (e.kind === 'text' ? `text(${e.bytes.toString('utf8')}${e.pasted ? ',pasted' : ''})` : e.kind === 'enter-swallowed' ? `swallowed(${e.reason})` : e.kind));
}

describe('InputParser', () => {
  const cases: [string, string[], number[], string[]][] = [
    ['typed char then lone Enter', ['a', '\r'], [0, 1000], ['text(a)', 'enter']],
    ['bracketed paste then Enter later', ['\x1b[200~hi\r\nthere\x1b[201~', '\r'], [0, 1000], ['text(hi\r\nthere,pasted)', 'enter']],
    ['Enter in the same read as a bracketed paste', ['\x1b[200~hi\x1b[201~\r'], [0], ['text(hi,pasted)', 'swallowed(same-read)']],
    ['Enter too soon after a paste', ['\x1b[200~hi\x1b[201~', '\r'], [0, 10], ['text(hi,pasted)', 'swallowed(guard-window)']],
    ['unbracketed text + Enter in one read', ['hello\r'], [0], ['text(hello,pasted)', 'swallowed(same-read)']],
    ['unbracketed CR inside a read is a line break', ['ab\rcd'], [0], ['text(ab\rcd,pasted)']],
    ['paste split across reads, marker split too', ['\x1b[200~abc\x1b[2', '01~'], [0, 1], ['text(abc,pasted)']],
    ['ESC alone is escape; ESC CR is a newline', ['\x1b', '\x1b\r'], [0, 1000], ['escape', 'newline']],
    ['ctrl keys', ['\x03', '\x04', '\x7f'], [0, 1000, 2000], ['ctrl-c', 'ctrl-d', 'backspace']],
    ['arrow keys are ignored keys', ['\x1b[A'], [0], ['key']],
  ];
  it.each(cases)('%s', (_name, chunks, times, expected) => {
    const p = new InputParser({ enterGuardMs: 50 });
    const out = chunks.flatMap((c, i) => p.feed(Buffer.from(c, 'utf8'), times[i] ?? 0));
    expect(kinds(out)).toEqual(expected);
  });

  it('keeps raw bytes: a UTF-8 character split across reads inside a paste survives', () => {
    const p = new InputParser({ enterGuardMs: 50 });
    const emoji = Buffer.from('😀', 'utf8');
    const out = [
      ...p.feed(Buffer.concat([Buffer.from('\x1b[200~x'), emoji.subarray(0, 2)]), 0),
      ...p.feed(Buffer.concat([emoji.subarray(2), Buffer.from('\x1b[201~')]), 1),
    ];
    expect(out).toHaveLength(1);
    expect(out[0]?.kind === 'text' && out[0].bytes.toString('utf8')).toBe('x😀');
  });
});

describe('directives', () => {
  it.each([
    ['#sim bash rm -rf /tmp/x; echo $(date)', { kind: 'bash', command: 'rm -rf /tmp/x; echo $(date)' }],
    ['  #sim write a/b.txt line1\\nline2', { kind: 'write', path: 'a/b.txt', content: 'line1\nline2' }],
    ["#sim print You've hit your session limit · resets 3pm", { kind: 'print', text: "You've hit your session limit · resets 3pm" }],
    ['#sim work 250', { kind: 'work', ms: 250 }],
    ['#sim exit 3', { kind: 'exit', code: 3 }],
    ['#sim usage 100', { kind: 'usage', fiveHour: 100 }],
    ['#sim usage 50 101', { kind: 'usage', fiveHour: 50, sevenDay: 101 }],
    ['#sim fail', { kind: 'fail', error: 'rate_limit' }],
    ['#sim fail overloaded', { kind: 'fail', error: 'overloaded' }],
    ['#sim notify idle_prompt waiting', { kind: 'notify', notificationType: 'idle_prompt', message: 'waiting' }],
    ['#sim fly', { kind: 'invalid' }],
    ['#sim work soon', { kind: 'invalid' }],
    ['#sim exit 300', { kind: 'invalid' }],
  ])('%s', (line, expected) => {
    expect(parseDirective(line)).toMatchObject(expected);
  });

  it('is not a directive unless the line starts with #sim', () => {
    expect(parseDirective('echo #sim bash x')).toBeUndefined();
    expect(parseDirective('#simulate')).toBeUndefined();
  });

  it('splits a prompt into directives and task text (CRLF-aware)', () => {
    const p = parsePrompt('Fix the bug\r\n#sim bash make test\r\n\r\nthen report\n#sim work 10');
    expect(p.directives.map((d) => d.kind)).toEqual(['bash', 'work']);
    expect(p.taskText).toBe('Fix the bug\nthen report');
  });
});

describe('encodeCwd', () => {
  it.each([
    ['/home/u/proj', '-home-u-proj'],
    ['/tmp/a b;c/x.y', '-tmp-a-b-c-x-y'],
    ['/srv/ünï', '-srv--n-'],
    ['/p/😀', '-p---'], // UTF-16 code units, like Claude Code's JavaScript
  ])('%s', (cwd, expected) => {
    expect(encodeCwd(cwd)).toBe(expected);
  });
});

describe('settings', () => {
  it.each([
    [undefined, 'Bash', true],
    ['', 'Bash', true],
    ['*', 'Write', true],
    ['Bash', 'Bash', true],
    ['Bash', 'BashOutput', false],
    ['Edit|Write', 'Write', true],
    ['Notebook.*', 'NotebookEdit', true],
    ['mcp__.*__write', 'mcp__fs__write', true],
    ['Bash', undefined, false],
    ['(', 'x', false],
  ])('matcher %j vs %j → %j', (matcher, value, expected) => {
    expect(matcherMatches(matcher, value)).toBe(expected);
  });

  it('merges hook lists and lets the highest source win scalars', () => {
    const merged = mergeSettings([
      { hooks: { Stop: [{ hooks: [{ type: 'command', command: 'a' }] }] }, statusLine: { type: 'command', command: 'user' }, env: { A: '1' } },
      { hooks: { Stop: [{ hooks: [{ type: 'command', command: 'b' }] }] }, statusLine: { type: 'command', command: 'flag' }, env: { B: '2' } },
    ]);
    expect(merged.hooks?.['Stop']?.flatMap((g) => g.hooks.map((h) => h.command))).toEqual(['a', 'b']);
    expect(merged.statusLine?.command).toBe('flag');
    expect(merged.env).toEqual({ A: '1', B: '2' });
  });
});

function result(over: Partial<HookRunResult>): HookRunResult {
  return { command: 'guard', exitCode: 0, signal: null, stdout: '', stderr: '', timedOut: false, durationMs: 1, ...over };
}

describe('hook exit-code protocol', () => {
  it.each([
    [result({ exitCode: 0 }), false],
    [result({ exitCode: 2, stderr: 'no\n' }), true],
    [result({ exitCode: 1, stderr: 'oops' }), false],
    [result({ exitCode: 127, stderr: 'not found' }), false],
    [result({ exitCode: null, signal: 'SIGKILL', timedOut: true }), false],
    [result({ exitCode: null, spawnError: 'ENOENT' }), false],
    [result({ exitCode: 0, stdout: '{"hookSpecificOutput":{"permissionDecision":"deny","permissionDecisionReason":"r"}}' }), true],
    [result({ exitCode: 0, stdout: '{"hookSpecificOutput":{"permissionDecision":"allow"}}' }), false],
    [result({ exitCode: 0, stdout: '{"decision":"block","reason":"legacy"}' }), true],
    [result({ exitCode: 1, stdout: '{"hookSpecificOutput":{"permissionDecision":"deny"}}' }), false],
  ])('%j blocks: %j', (r, blocked) => {
    expect(preToolDecision([classifyHook(r)]).blocked).toBe(blocked);
  });

  it('uses stderr as the reason of an exit-2 block', () => {
    expect(preToolDecision([classifyHook(result({ exitCode: 2, stderr: 'use trash instead\n' }))]).reason).toBe('use trash instead');
  });
});

describe('promptText: what Claude Code makes of a pasted prompt (as measured on the real CLI)', () => {
  it.each(PASTE_CASES)('$name', ({ pasted, prompt }) => {
    expect(promptText([{ text: pasted, pasted: true }], PASTE_ID).prompt).toBe(prompt);
  });

  it.each(QUEUED_PASTE_CASES)('$name', ({ pasted, prompt }) => {
    expect(promptText([{ text: pasted, pasted: true }], PASTE_ID, true).prompt).toBe(prompt);
  });

  it('typed text is never wrapped; the plain text has no wrappers', () => {
    expect(promptText([{ text: 'a\nb\nc\nd', pasted: false }], 'beef')).toEqual({ prompt: 'a\nb\nc\nd', plain: 'a\nb\nc\nd' });
    expect(promptText([{ text: 'see: ', pasted: false }, { text: 'x'.repeat(900), pasted: true }], 'beef')).toEqual({
      prompt: `see: \n\n<pasted_content id="beef">\n${'x'.repeat(900)}\n</pasted_content id="beef">\n`,
      plain: `see: ${'x'.repeat(900)}`,
    });
  });
});

describe('usage and limit messages', () => {
  const reset = new Date('2026-01-02T15:45:00Z');
  it.each([
    ['five_hour', '2026-01-02T15:45:00Z', 'UTC', '3:45pm'],
    ['five_hour', '2026-01-02T15:00:00Z', 'UTC', '3pm'],
    ['five_hour', '2026-01-02T15:45:00Z', 'Europe/Berlin', '4:45pm'],
    ['weekly', '2026-01-05T00:00:00Z', 'UTC', 'Jan 5, 12am'],
    ['weekly', '2026-12-10T13:54:00Z', 'UTC', 'Dec 10, 1:54pm'],
  ] as const)('%s reset %s in %s → %s', (kind, iso, tz, expected) => {
    expect(formatReset(new Date(iso), kind, tz)).toBe(expected);
  });

  it('builds the messages of Claude Code 2.1.332', () => {
    expect(limitMessage({ kind: 'five_hour', resetsAt: reset }, 'UTC', false)).toBe("You've hit your 5-hour limit · resets 3:45pm");
    expect(limitMessage({ kind: 'five_hour', resetsAt: reset }, 'Asia/Saigon', true)).toBe("You've hit your 5-hour limit · resets 10:45pm (Asia/Saigon)");
    expect(limitMessage({ kind: 'weekly', resetsAt: new Date('2026-12-10T13:54:00Z') }, 'UTC', true)).toBe("You've hit your weekly limit · resets Dec 10, 1:54pm (UTC)");
    expect(limitMessage({ kind: 'opus', resetsAt: reset }, 'UTC', false)).toBe("You've hit your Opus limit · resets 3:45pm");
  });

  it.each([
    [undefined, undefined, undefined],
    [{ five_hour: { utilization: 99.9, resets_at: null } }, undefined, undefined],
    [{ five_hour: { utilization: 100, resets_at: null } }, undefined, 'five_hour'],
    [{ five_hour: { utilization: 130, resets_at: null }, seven_day: { utilization: 100, resets_at: null } }, undefined, 'weekly'],
    [{ five_hour: null, seven_day_opus: { utilization: 100, resets_at: null } }, 'claude-opus-4-1', 'opus'],
    [{ seven_day_opus: { utilization: 100, resets_at: null } }, 'claude-sonnet-4-5', undefined],
    [{ five_hour: { utilization: 'high' } }, undefined, undefined],
  ])('exhaustion(%j, %j) → %j', (usage, model, kind) => {
    expect(exhaustion(usage as never, model)?.kind).toBe(kind);
  });

  it('maps the usage file to the status line rate_limits (epoch seconds)', () => {
    expect(statusRateLimits({ five_hour: { utilization: 23.5, resets_at: '2025-02-01T16:00:00Z' }, seven_day: null })).toEqual({
      five_hour: { used_percentage: 23.5, resets_at: 1738425600 },
    });
    expect(statusRateLimits({})).toBeUndefined();
  });
});
