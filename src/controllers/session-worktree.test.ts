import { describe, expect, it } from 'vitest';
import { decideWorktree, judgeOrphanWorktree, ownedWorktrees, type OrphanWorktreeObserved, type WorktreeObserved } from './session-worktree.js';

const target = { path: '/src/web-worktrees/s1', branch: 's1' };
const repo = { topLevel: '/src/web', commonDir: '/src/web/.git', prefix: '' };

describe('decideWorktree', () => {
  it.each<[string, WorktreeObserved, boolean, unknown]>([
    ['missing: create it, run in it', { target, repo, at: { state: 'missing' } }, false, {
      kind: 'ready', cwd: '/src/web-worktrees/s1', status: { path: target.path, branch: 's1', repo: '/src/web' },
      create: { type: 'git.addWorktree', repo: '/src/web', path: target.path, branch: 's1' },
    }],
    ['missing, with a base and the prune annotation', { target: { ...target, base: 'origin/main' }, repo, at: { state: 'missing' } }, true, {
      kind: 'ready', cwd: target.path, status: { path: target.path, branch: 's1', repo: '/src/web', prune: true },
      create: { type: 'git.addWorktree', repo: '/src/web', path: target.path, branch: 's1', base: 'origin/main' },
    }],
    ['there: run in it, on whatever branch the agent chose', { target, repo, at: { state: 'worktree', commonDir: '/src/web/.git', topLevel: target.path, branch: 'fix/login' } }, false, {
      kind: 'ready', cwd: target.path, status: { path: target.path, branch: 'fix/login', repo: '/src/web' },
    }],
    ['there, detached', { target, repo, at: { state: 'worktree', commonDir: '/src/web/.git', topLevel: target.path, head: '0123456789abcdef0123' } }, false, {
      kind: 'ready', cwd: target.path, status: { path: target.path, branch: '(detached at 0123456789ab)', repo: '/src/web', head: '0123456789abcdef0123' },
    }],
    ['a project in a subdirectory of its repository: the same subdirectory of the worktree', { target, repo: { ...repo, prefix: 'services/api/' }, at: { state: 'missing' } }, false, {
      kind: 'ready', cwd: '/src/web-worktrees/s1/services/api', status: { path: target.path, branch: 's1', repo: '/src/web/services/api' },
      create: { type: 'git.addWorktree', repo: '/src/web/services/api', path: target.path, branch: 's1' },
    }],
    ['the project is not in a repository', { target, at: { state: 'missing' } }, false, {
      kind: 'blocked', reason: 'WorktreeUnavailable', message: 'spec.worktree needs a git repository, and the project path /src/web is not inside one (git init it, or remove spec.worktree)',
    }],
    ['git cannot be run', { target, problem: 'git is not installed (apt-get install -y git); sessions with spec.worktree need it' }, false, {
      kind: 'blocked', reason: 'WorktreeUnavailable', message: `cannot use the worktree ${target.path}: git is not installed (apt-get install -y git); sessions with spec.worktree need it`,
    }],
    ['something else at the path', { target, repo, at: { state: 'other', what: 'a directory that is not a git checkout' } }, false, {
      kind: 'blocked', reason: 'WorktreeConflict', message: `${target.path} exists and is a directory that is not a git checkout, not a worktree of /src/web; it is left alone (move it away, or choose another spec.worktree.path)`,
    }],
    ['a checkout of another repository', { target, repo, at: { state: 'worktree', commonDir: '/other/.git', topLevel: target.path, branch: 'main' } }, false, {
      kind: 'blocked', reason: 'WorktreeConflict', message: `${target.path} is a checkout of another repository (/other/.git); it is left alone (choose another spec.worktree.path)`,
    }],
  ])('%s', (_name, observed, prune, want) => {
    const projectPath = observed.repo?.prefix ? '/src/web/services/api' : '/src/web';
    expect(decideWorktree(observed, projectPath, prune)).toEqual(want);
  });
});

describe('judgeOrphanWorktree', () => {
  const w = (o: Partial<OrphanWorktreeObserved>): OrphanWorktreeObserved => ({ path: '/wt/s1', repo: '/src/web', changes: [], at: { state: 'worktree', commonDir: '/src/web/.git', topLevel: '/wt/s1', branch: 's1' }, ...o });
  it.each<[string, OrphanWorktreeObserved, unknown]>([
    ['clean: remove', w({}), { action: 'remove', effect: { type: 'git.removeWorktree', repo: '/src/web', path: '/wt/s1' } }],
    ['gone already: forget', w({ at: { state: 'missing' } }), { action: 'forget', effect: { type: 'git.removeWorktree', repo: '/src/web', path: '/wt/s1' } }],
    ['uncommitted changes: keep, and say which', w({ changes: [' M src/a.ts', '?? notes.md'] }), {
      action: 'keep', reason: 'WorktreeDirty',
      message: 'the worktree /wt/s1 has uncommitted changes (2: M src/a.ts, ?? notes.md); it is kept. Commit or discard them (the branch is always kept), and it is removed on a later pass',
    }],
    ['many changes: the first five', w({ changes: Array.from({ length: 20 }, (_, i) => `?? f${i}`) }), {
      action: 'keep', reason: 'WorktreeDirty',
      message: 'the worktree /wt/s1 has uncommitted changes (20 or more: ?? f0, ?? f1, ?? f2, ?? f3, ?? f4, …); it is kept. Commit or discard them (the branch is always kept), and it is removed on a later pass',
    }],
    ['no longer a worktree: keep', w({ at: { state: 'other', what: 'a file' } }), { action: 'keep', reason: 'WorktreeConflict', message: '/wt/s1 is no longer a git worktree (a file); it is left alone' }],
    ['unreadable: keep', w({ problem: 'git status timed out' }), { action: 'keep', reason: 'WorktreeUnavailable', message: 'the worktree /wt/s1 cannot be checked (git status timed out); it is kept' }],
  ])('%s', (_name, observed, want) => {
    expect(judgeOrphanWorktree(observed)).toEqual(want);
  });
});

describe('ownedWorktrees', () => {
  it('takes the git worktrees of an inventory entry, with their repository', () => {
    expect(ownedWorktrees([{ type: 'tmux-session', name: 's1' }, { type: 'git-worktree', name: '/wt/s1', repo: '/src/web' }, { type: 'git-worktree', name: '/wt/old' }])).toEqual([{ path: '/wt/s1', repo: '/src/web' }]);
    expect(ownedWorktrees(undefined)).toEqual([]);
  });
});
