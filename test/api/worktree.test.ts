import { describe, expect, it } from 'vitest';
import { desiredFromObjects, formatDiagnostic } from '../../src/api/objects.js';
import { parseManifestText } from '../../src/api/parse.js';
import { validateSet } from '../../src/api/validate-set.js';
import { defaultWorktreePath, worktreeTarget } from '../../src/api/worktree.js';

const project = `apiVersion: claudefailover.io/v1alpha1
kind: Project
metadata:
  name: web
spec:
  path: /src/web
`;
const session = (name: string, spec: string) => `apiVersion: claudefailover.io/v1alpha1
kind: Session
metadata:
  name: ${name}
spec:
  project: web
${spec}`;

function check(...docs: string[]): string[] {
  const r = parseManifestText('/m/set.yaml', docs.join('---\n'), { homeDir: '/home/op' });
  return [...r.diagnostics, ...validateSet(r.objects)].map(formatDiagnostic);
}

describe('Session.spec.worktree', () => {
  it.each([
    ['true', '  worktree: true\n', { path: '/src/web-worktrees/s1', branch: 's1' }],
    ['false', '  worktree: false\n', undefined],
    ['absent', '', undefined],
    ['a branch', '  worktree:\n    branch: feature/search\n', { path: '/src/web-worktrees/s1', branch: 'feature/search' }],
    ['a relative path and a base', '  worktree:\n    path: ../wt/one\n    base: origin/main\n', { path: '/wt/one', branch: 's1', base: 'origin/main' }],
    ['a ~ path', '  worktree: {path: ~/wt/s1}\n', { path: '/home/op/wt/s1', branch: 's1' }],
  ])('%s', (_name, spec, want) => {
    const r = parseManifestText('/m/set.yaml', [project, session('s1', spec)].join('---\n'), { homeDir: '/home/op' });
    expect(r.diagnostics).toEqual([]);
    const d = desiredFromObjects(r.objects);
    expect(worktreeTarget(d.sessions[0] as never, d.projects[0])).toEqual(want);
  });

  it('puts the default worktree beside the project, whatever trailing slash', () => {
    expect(defaultWorktreePath('/src/web', 'ccl-1')).toBe('/src/web-worktrees/ccl-1');
    expect(defaultWorktreePath('/src/web/', 'ccl-1')).toBe('/src/web-worktrees/ccl-1');
  });

  it.each([
    ['a bad branch name', session('s1', '  worktree:\n    branch: "a..b"\n'), /^\/m\/set\.yaml:15:13: `spec\.worktree\.branch`: not a usable git branch name/],
    ['an unknown field', session('s1', '  worktree:\n    brnach: x\n'), /unknown field `brnach`/],
    ['workdir with a worktree', session('s1', '  workdir: /src/web/sub\n  worktree: true\n'), /^\/m\/set\.yaml:14:12: `spec\.workdir`: `workdir` and `worktree` exclude each other/],
    ['two sessions, one path', [session('s1', '  worktree: {path: /wt/x}\n'), session('s2', '  worktree:\n    path: /wt/x\n')].join('---\n'), /^\/m\/set\.yaml:\d+:\d+: Session\/s2: worktree path \/wt\/x is already the worktree of Session\/s1 \(\/m\/set\.yaml:\d+:1\)/],
    ['two sessions, one branch', [session('s1', '  worktree: {branch: b}\n'), session('s2', '  worktree:\n    branch: b\n')].join('---\n'), /Session\/s2: branch b is already the worktree branch of Session\/s1 .*one worktree only/],
    ['a branch equal to the other session\'s default', [session('s1', '  worktree: true\n'), session('s2', '  worktree: {branch: s1}\n')].join('---\n'), /Session\/s2: branch s1 is already the worktree branch of Session\/s1/],
    ['the project checkout itself', session('s1', '  worktree: {path: /src/web}\n'), /Session\/s1: the worktree path \/src\/web is the project checkout/],
    ['a parent of the project', session('s1', '  worktree: {path: /src}\n'), /the worktree path \/src is the project checkout \/src\/web \(or contains it\)/],
  ])('rejects %s with file:line:col', (_name, doc, pattern) => {
    const lines = check(project, doc);
    expect(lines.filter((l) => pattern.test(l)), lines.join('\n')).toHaveLength(1);
  });

  it('accepts sessions with distinct worktrees, and sessions without one beside them', () => {
    expect(check(project, session('s1', '  worktree: true\n'), session('s2', '  worktree: true\n'), session('s3', '  workdir: /src/web\n'))).toEqual([]);
  });
});
