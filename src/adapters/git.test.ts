import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GitAdapter, parseWorktreeList } from './git.js';

const dirs: string[] = [];
afterEach(() => {
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** The test's environment without GIT_* variables (a test run from a git hook must not point git elsewhere). */
const ENV = Object.fromEntries(Object.entries({ ...process.env, LC_ALL: 'C' }).filter(([k]) => !k.startsWith('GIT_')));

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8', env: ENV }).trim();
}

/** A repository with one commit (and a subdirectory), in a fresh temp dir. */
function repo(): { root: string; repo: string } {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'cf-git-')));
  dirs.push(root);
  const r = join(root, 'project');
  mkdirSync(join(r, 'services', 'api'), { recursive: true });
  execFileSync('git', ['init', '-q', '-b', 'main', r], { env: ENV });
  writeFileSync(join(r, 'services', 'api', 'README.md'), 'hello\n');
  git(r, 'add', '-A');
  git(r, 'commit', '-q', '-m', 'init');
  return { root, repo: r };
}

const g = new GitAdapter();

describe('parseWorktreeList', () => {
  it.each([
    ['main checkout and a branch', 'worktree /r\nHEAD abc\nbranch refs/heads/main\n\nworktree /r-wt/s1\nHEAD abc\nbranch refs/heads/feature/x\n', [{ path: '/r', head: 'abc', branch: 'main', bare: false, prunable: false, locked: false }, { path: '/r-wt/s1', head: 'abc', branch: 'feature/x', bare: false, prunable: false, locked: false }]],
    ['detached, prunable, locked', 'worktree /a\nHEAD abc\ndetached\nprunable gitdir file points to non-existent location\n\nworktree /b\nHEAD def\nbranch refs/heads/b\nlocked\n', [{ path: '/a', head: 'abc', bare: false, prunable: true, locked: false }, { path: '/b', head: 'def', branch: 'b', bare: false, prunable: false, locked: true }]],
    ['bare', 'worktree /bare.git\nbare\n', [{ path: '/bare.git', bare: true, prunable: false, locked: false }]],
    ['empty', '', []],
  ])('%s', (_name, text, want) => {
    expect(parseWorktreeList(text)).toEqual(want);
  });
});

describe('GitAdapter (real git)', () => {
  it('finds the repository of a directory, with the prefix of a subdirectory; nothing outside a checkout', async () => {
    const { root, repo: r } = repo();
    expect(await g.repoOf(r)).toEqual({ topLevel: r, commonDir: join(r, '.git'), prefix: '' });
    expect(await g.repoOf(join(r, 'services', 'api'))).toEqual({ topLevel: r, commonDir: join(r, '.git'), prefix: 'services/api/' });
    mkdirSync(join(root, 'plain'));
    expect(await g.repoOf(join(root, 'plain'))).toBeUndefined();
    expect(await g.repoOf(join(root, 'missing'))).toBeUndefined();
  });

  it('tells what is at a path: nothing, an empty directory, a worktree (branch or detached), the main checkout, anything else', async () => {
    const { root, repo: r } = repo();
    const wt = join(root, 'wt', 's1');
    expect(await g.worktreeAt(wt)).toEqual({ state: 'missing' });
    mkdirSync(wt, { recursive: true });
    expect(await g.worktreeAt(wt)).toEqual({ state: 'missing' }); // empty: git worktree add fills it
    rmSync(wt, { recursive: true });
    git(r, 'worktree', 'add', '-q', '-b', 's1', wt);
    expect(await g.worktreeAt(wt)).toEqual({ state: 'worktree', commonDir: join(r, '.git'), topLevel: wt, branch: 's1' });
    git(wt, 'checkout', '-q', '--detach');
    const head = git(wt, 'rev-parse', 'HEAD');
    expect(await g.worktreeAt(wt)).toEqual({ state: 'worktree', commonDir: join(r, '.git'), topLevel: wt, head });
    expect(await g.worktreeAt(r)).toEqual({ state: 'worktree', commonDir: join(r, '.git'), topLevel: r, branch: 'main' });
    expect(await g.worktreeAt(join(r, 'services'))).toEqual({ state: 'other', what: `a directory inside the checkout ${r}` });
    mkdirSync(join(root, 'plain'));
    writeFileSync(join(root, 'plain', 'notes.txt'), 'x');
    expect(await g.worktreeAt(join(root, 'plain'))).toEqual({ state: 'other', what: 'a directory that is not a git checkout' });
    expect(await g.worktreeAt(join(root, 'plain', 'notes.txt'))).toEqual({ state: 'other', what: 'a file' });
  });

  it('lists uncommitted changes: modified, staged and untracked files (ignored ones do not count)', async () => {
    const { repo: r } = repo();
    expect(await g.changes(r)).toEqual([]);
    writeFileSync(join(r, '.gitignore'), 'build/\n');
    git(r, 'add', '.gitignore');
    git(r, 'commit', '-q', '-m', 'ignore');
    mkdirSync(join(r, 'build'));
    writeFileSync(join(r, 'build', 'out.js'), 'x');
    expect(await g.changes(r)).toEqual([]);
    writeFileSync(join(r, 'services', 'api', 'README.md'), 'changed\n');
    writeFileSync(join(r, 'new.txt'), 'new\n');
    expect(await g.changes(r)).toEqual([' M services/api/README.md', '?? new.txt']);
    git(r, 'add', 'new.txt');
    expect(await g.changes(r)).toEqual(['A  new.txt', ' M services/api/README.md']);
    expect(await g.changes(r, 1)).toHaveLength(1);
  });

  it('adds a worktree on a new branch (from HEAD or a base), on an existing branch, and again as a no-op', async () => {
    const { root, repo: r } = repo();
    const first = git(r, 'rev-parse', 'HEAD');
    writeFileSync(join(r, 'second.txt'), '2\n');
    git(r, 'add', '-A');
    git(r, 'commit', '-q', '-m', 'second');
    const a = join(root, 'project-worktrees', 'a');
    await g.addWorktree({ type: 'git.addWorktree', repo: r, path: a, branch: 'a' });
    expect(git(a, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('a');
    expect(existsSync(join(a, 'second.txt'))).toBe(true);
    await g.addWorktree({ type: 'git.addWorktree', repo: r, path: a, branch: 'a' }); // idempotent
    git(a, 'checkout', '-q', '-b', 'agent-switched'); // the agent may switch: still its worktree
    await g.addWorktree({ type: 'git.addWorktree', repo: r, path: a, branch: 'a' });
    expect(git(a, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('agent-switched');

    const b = join(root, 'project-worktrees', 'b');
    await g.addWorktree({ type: 'git.addWorktree', repo: join(r, 'services', 'api'), path: b, branch: 'feature/b', base: first });
    expect(git(b, 'rev-parse', 'HEAD')).toBe(first);
    expect(git(b, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('feature/b');

    git(r, 'branch', 'existing', first);
    const c = join(root, 'project-worktrees', 'c');
    await g.addWorktree({ type: 'git.addWorktree', repo: r, path: c, branch: 'existing', base: 'main' });
    expect(git(c, 'rev-parse', 'HEAD')).toBe(first); // an existing branch is checked out as it is
  });

  it('re-creates a worktree whose directory was deleted (still registered)', async () => {
    const { root, repo: r } = repo();
    const a = join(root, 'wt', 'a');
    await g.addWorktree({ type: 'git.addWorktree', repo: r, path: a, branch: 'a' });
    writeFileSync(join(a, 'work.txt'), 'w\n');
    git(a, 'add', '-A');
    git(a, 'commit', '-q', '-m', 'agent work');
    rmSync(a, { recursive: true, force: true });
    await g.addWorktree({ type: 'git.addWorktree', repo: r, path: a, branch: 'a' });
    expect(existsSync(join(a, 'work.txt'))).toBe(true); // the branch kept the commit
  });

  it('refuses what it must not touch: a non-repository, a foreign directory, another checkout, a branch checked out elsewhere', async () => {
    const { root, repo: r } = repo();
    mkdirSync(join(root, 'plain'));
    await expect(g.addWorktree({ type: 'git.addWorktree', repo: join(root, 'plain'), path: join(root, 'x'), branch: 'x' })).rejects.toMatchObject({ code: 'CF_ERR_WORKTREE_NO_REPO' });
    const foreign = join(root, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'keep.txt'), 'mine\n');
    await expect(g.addWorktree({ type: 'git.addWorktree', repo: r, path: foreign, branch: 'f' })).rejects.toMatchObject({ code: 'CF_ERR_WORKTREE_CONFLICT', message: expect.stringContaining('a directory that is not a git checkout') });
    expect(existsSync(join(foreign, 'keep.txt'))).toBe(true);
    const other = join(root, 'other');
    execFileSync('git', ['init', '-q', other], { env: ENV });
    writeFileSync(join(other, 'f'), 'x');
    await expect(g.addWorktree({ type: 'git.addWorktree', repo: r, path: other, branch: 'o' })).rejects.toMatchObject({ code: 'CF_ERR_WORKTREE_CONFLICT', message: expect.stringContaining('another repository') });
    await g.addWorktree({ type: 'git.addWorktree', repo: r, path: join(root, 'wt', 'one'), branch: 'shared' });
    await expect(g.addWorktree({ type: 'git.addWorktree', repo: r, path: join(root, 'wt', 'two'), branch: 'shared' })).rejects.toMatchObject({ code: 'CF_ERR_WORKTREE_CONFLICT', message: expect.stringContaining(`already checked out in ${join(root, 'wt', 'one')}`) });
    await expect(g.addWorktree({ type: 'git.addWorktree', repo: r, path: join(root, 'wt', 'three'), branch: 'new', base: 'no-such-ref' })).rejects.toMatchObject({ code: 'CF_ERR_GIT', message: expect.stringContaining('no-such-ref') });
  });

  it('removes a clean worktree and keeps its branch; never one with changes, the main checkout, or a foreign directory', async () => {
    const { root, repo: r } = repo();
    const a = join(root, 'wt', 'a');
    await g.addWorktree({ type: 'git.addWorktree', repo: r, path: a, branch: 'a' });
    writeFileSync(join(a, 'draft.txt'), 'unsaved\n');
    await expect(g.removeWorktree({ type: 'git.removeWorktree', repo: r, path: a })).rejects.toMatchObject({ code: 'CF_ERR_WORKTREE_DIRTY', message: expect.stringContaining('?? draft.txt') });
    expect(existsSync(join(a, 'draft.txt'))).toBe(true);
    git(a, 'add', '-A');
    git(a, 'commit', '-q', '-m', 'draft');
    const tip = git(a, 'rev-parse', 'HEAD');
    await g.removeWorktree({ type: 'git.removeWorktree', repo: r, path: a });
    expect(existsSync(a)).toBe(false);
    expect(git(r, 'rev-parse', 'refs/heads/a')).toBe(tip);
    await g.removeWorktree({ type: 'git.removeWorktree', repo: r, path: a }); // gone: success
    await expect(g.removeWorktree({ type: 'git.removeWorktree', repo: r, path: r })).rejects.toMatchObject({ code: 'CF_ERR_WORKTREE_CONFLICT' });
    const plain = join(root, 'plain');
    mkdirSync(plain);
    writeFileSync(join(plain, 'x'), 'x');
    await expect(g.removeWorktree({ type: 'git.removeWorktree', repo: r, path: plain })).rejects.toMatchObject({ code: 'CF_ERR_WORKTREE_CONFLICT' });
    expect(existsSync(join(plain, 'x'))).toBe(true);
  });

  it('says git is missing with CF_ERR_GIT_MISSING', async () => {
    const { repo: r } = repo();
    await expect(new GitAdapter({ gitBin: '/nonexistent/git' }).repoOf(r)).rejects.toMatchObject({ code: 'CF_ERR_GIT_MISSING' });
  });
});
