import { describe, expect, it } from 'vitest';
import type { PathInfo } from './ports.js';
import { linkState } from './shared-state.js';

const DIRS = ['projects', 'todos'];

describe('linkState', () => {
  it.each<[string, Record<string, PathInfo>, { linked: boolean; divergedDirs: string[]; missing: string[]; message?: RegExp }]>([
    ['all linked (absolute)', { projects: { kind: 'symlink', target: '/s/projects' }, todos: { kind: 'symlink', target: '/s/todos' } }, { linked: true, divergedDirs: [], missing: [] }],
    ['linked relatively', { projects: { kind: 'symlink', target: '../../s/projects' }, todos: { kind: 'symlink', target: '/s/todos' } }, { linked: true, divergedDirs: [], missing: [] }],
    ['missing ones are to be linked, not diverged', {}, { linked: true, divergedDirs: [], missing: ['projects', 'todos'] }],
    ['a real todos/: adoptable, the message names the command', { projects: { kind: 'symlink', target: '/s/projects' }, todos: { kind: 'directory' } }, { linked: false, divergedDirs: ['todos'], missing: [], message: /\/acc\/a\/todos is a real directory .*claude-failover account link a --adopt/ }],
    ['a real projects/: merged by hand', { projects: { kind: 'directory' }, todos: { kind: 'symlink', target: '/s/todos' } }, { linked: false, divergedDirs: ['projects'], missing: [], message: /\/acc\/a\/projects is a real directory \(expected a link to \/s\/projects\); move its contents/ }],
    ['a link elsewhere', { projects: { kind: 'symlink', target: '/elsewhere' }, todos: { kind: 'symlink', target: '/s/todos' } }, { linked: false, divergedDirs: ['projects'], missing: [], message: /links to \/elsewhere, not \/s\/projects/ }],
  ])('%s', (_n, seen, want) => {
    const l = linkState('a', '/acc/a', '/s', DIRS, seen);
    expect({ linked: l.linked, divergedDirs: l.divergedDirs, missing: l.missing }).toEqual({ linked: want.linked, divergedDirs: want.divergedDirs, missing: want.missing });
    if (want.message) expect(l.diverged.join('\n')).toMatch(want.message);
  });

  it('without a shared store there is nothing to check', () => {
    expect(linkState('a', '/acc/a', undefined, DIRS, { todos: { kind: 'directory' } })).toEqual({ linked: true, diverged: [], divergedDirs: [], missing: [] });
  });
});
