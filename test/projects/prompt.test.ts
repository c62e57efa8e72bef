import { describe, expect, it } from 'vitest';
import { TASK_MARKER, taskIdFromPrompt, taskMarkerId } from '../../src/core/task-marker.js';
import { continuationPrompt, inputRewrites, promptEnd, taskPrompt, terminalSafe } from '../../src/controllers/project-prompt.js';
import { terminalBytes } from '../../src/adapters/delivery.js';

describe('terminalSafe', () => {
  it.each([
    ['plain text', 'plain text', 0],
    ['tab\tand\nlines\r\n', 'tab\tand\nlines\r\n', 0],
    ['esc \u001b[201~ end', 'esc \u241b[201~ end', 1],
    ['ctrl-c \u0003 ctrl-d \u0004 nul \u0000 del \u007f', 'ctrl-c \u2403 ctrl-d \u2404 nul \u2400 del \u2421', 4],
    ['emoji 😀 and $(rm -rf /); "q" \'q\'', 'emoji 😀 and $(rm -rf /); "q" \'q\'', 0],
  ])('%j', (input, want, n) => {
    expect(terminalSafe(input)).toEqual({ text: want, replaced: n });
  });
});

describe('taskPrompt', () => {
  const body = '- leading dash; $(echo hi) "quotes" \'single\'\r\nsecond line 😀\nends with a backslash \\';
  const p = taskPrompt({ id: 't-1', body }, '/q/dispatched/t-1.md');

  it('starts with the task marker the hooks pick up', () => {
    expect(TASK_MARKER.exec(p)?.[1]).toBe('t-1');
    expect(p.startsWith('[cf-task:t-1] ')).toBe(true);
  });
  it('names the task file and how to finish', () => {
    expect(p).toContain('Task file: /q/dispatched/t-1.md');
    expect(p).toMatch(/end your turn: the controller marks the task done/);
  });
  it('carries the body verbatim, and ends with a closing line (a trailing backslash cannot eat the Enter)', () => {
    expect(p).toContain(`--- task ---\n${body}\n${promptEnd('t-1')}`);
    expect(p.endsWith('[end of task t-1]')).toBe(true);
  });
  it('says when it is a repeated delivery, and when control characters were replaced', () => {
    expect(taskPrompt({ id: 't', body: 'x', attempt: 2 }, '/p')).toMatch(/delivery attempt 2/);
    expect(taskPrompt({ id: 't', body: 'x' }, '/p')).not.toMatch(/attempt/);
    expect(taskPrompt({ id: 't', body: 'a\u001bb' }, '/p')).toMatch(/1 control character\(s\) .* replaced/);
  });
  it.each<[string, string, boolean]>([
    ['plain text', 'fix the parser\n  indented; $(x) "q" 😀 日本語', false],
    ['CRLF line endings', 'a\r\nb\rc', false],
    ['emoji with joiner and variation selector', '👨\u200d👩\u200d👧 ❤\ufe0f', false],
    ['a tab', 'all:\n\tmake build', true],
    ['a zero-width space', 'a\u200bb', true],
    ['a byte order mark', '\ufeffheader', true],
    ['a line separator', 'a\u2028b', true],
    ['a C1 control', 'a\u0085b', true],
    ['a decomposed accent (not NFC)', 'e\u0301', true],
  ])('says when Claude Code\'s input will change the text: %s', (_n, body, noted) => {
    expect(inputRewrites(body)).toBe(noted);
    expect(/terminal input changes/.test(taskPrompt({ id: 't', body }, '/p'))).toBe(noted);
  });
  it('continuationPrompt carries the same marker and the path', () => {
    const c = continuationPrompt({ id: 'fix login', path: '/q/dispatched/fix login.md' });
    expect(taskIdFromPrompt(c)).toBe(taskMarkerId('fix login'));
    expect(c).toContain('/q/dispatched/fix login.md');
    expect(c).toMatch(/interrupted/);
    const fresh = continuationPrompt({ id: 'fix login', path: '/q/dispatched/fix login.md', newConversation: true });
    expect(taskIdFromPrompt(fresh)).toBe(taskMarkerId('fix login'));
    expect(fresh).toMatch(/new conversation/);
    expect(fresh).toMatch(/Read the task file and do the task/);
  });
});

describe('terminal bytes', () => {
  it.each(['a\r\nb', 'a\nb', 'a\rb', 'x\r\n\r\ny\n', '😀 $( ;'])('%j is pasted as its exact UTF-8 bytes', (text) => {
    expect(terminalBytes(text).equals(Buffer.from(text, 'utf8'))).toBe(true);
  });
});
