import { describe, expect, it } from 'vitest';
import { formatTaskMarker, TASK_MARKER, taskIdFromPrompt, taskMarkerId } from './task-marker.js';

const STAND_IN = /^id-[0-9a-f]{24}$/;

describe('task marker: format and parse round-trip', () => {
  it.each<[string, string, 'kept' | 'stand-in']>([
    ['a generated id', '20260501-120102-a1b2c3-fix-login', 'kept'],
    ['dots and underscores', 'report.v2_final', 'kept'],
    ['one character', 'x', 'kept'],
    ['200 safe characters (the limit)', 'x'.repeat(200), 'kept'],
    ['201 safe characters', 'x'.repeat(201), 'stand-in'],
    ['a space', 'fix login', 'stand-in'],
    ['non-ASCII', 'résumé', 'stand-in'],
    ['emoji', 'tâche ✓', 'stand-in'],
    ['a slash', 'a/b', 'stand-in'],
    ['a closing bracket', 'a]b', 'stand-in'],
    ['a marker inside the id', '[cf-task:t-1]', 'stand-in'],
  ])('%s', (_name, id, how) => {
    const marker = taskMarkerId(id);
    if (how === 'kept') expect(marker).toBe(id);
    else expect(marker).toMatch(STAND_IN);
    expect(taskMarkerId(id)).toBe(marker); // stable
    expect(formatTaskMarker(id)).toBe(`[cf-task:${marker}]`);
    for (const prompt of [formatTaskMarker(id), `${formatTaskMarker(id)} Task ${id} from the claude-failover queue.`, `before\n${formatTaskMarker(id)}\nafter`]) {
      expect(taskIdFromPrompt(prompt)).toBe(marker);
      expect(TASK_MARKER.exec(prompt)?.[0]).toBe(formatTaskMarker(id));
    }
  });

  it('different unsafe ids get different stand-ins', () => {
    expect(taskMarkerId('fix login')).not.toBe(taskMarkerId('fix  login'));
  });

  it.each([
    ['no marker', 'just text'],
    ['an empty marker', '[cf-task:] x'],
    ['an unclosed marker', '[cf-task:t-1 x'],
    ['a marker with a space', '[cf-task:fix login]'],
    ['another prefix', '[cf-job:t-1]'],
  ])('finds no marker in %s', (_name, prompt) => {
    expect(taskIdFromPrompt(prompt)).toBeUndefined();
  });

  it('the first marker of a prompt wins', () => {
    expect(taskIdFromPrompt(`${formatTaskMarker('a')} then ${formatTaskMarker('b')}`)).toBe('a');
  });
});
